/**
 * A champion measured on another version's held-out split is a fact about its
 * model, kept as a metric of the run that produced it (`eval/<split sha256>/<metric>`;
 * the MLflow UI groups them under `eval`), not as one more tag per split on the version.
 */
export const EVAL_METRIC = {
  key: (splitDigest: string, metric = 'test_accuracy') => `eval/${splitDigest}/${metric}`,
  parse(key: string): { split: string; metric: string } | null {
    const m = /^eval\/([0-9a-f]{64})\/(.+)$/.exec(key);
    return m ? { split: m[1]!, metric: m[2]! } : null;
  },
};
