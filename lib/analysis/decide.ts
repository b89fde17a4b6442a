/**
 * The decision of one analysis of a progressive-rollout step, from the live
 * metrics of both versions. Pure: the analysis activity calls it with what
 * Prometheus says, and the unit tests call it with every case.
 *
 * Per criterion (each with its own minimum samples; below it: "short"):
 * - agreement: Wilson score interval at `confidence`; pass when its lower
 *   bound reaches `minAgreement`, fail when its upper bound is below it,
 *   undecided in between (wait for more samples);
 * - error ratio: one-sided two-proportion z-test of "candidate worse than
 *   champion by more than `errorRatioMargin`"; fail when significant;
 * - p99 latency (histogram_quantile, not a proportion): candidate <=
 *   `maxLatencyRatio` x champion + `latencySlackMs`;
 * - predicted-class distributions: Jensen-Shannon distance (the effect size)
 *   and Pearson's chi-square test of homogeneity (is the difference real?):
 *   pass when the distance is within `maxClassDistance`, fail when it is past
 *   it and the test is significant at `confidence`, undecided otherwise;
 * - live accuracy, once both versions' answers have `minFeedback` ground-truth
 *   labels in the window: one-sided two-proportion z-test of "candidate wrong
 *   more often than champion + `liveAccuracyMargin`"; fail when significant.
 *   From then on agreement and class distance, which measure difference from
 *   the champion and not correctness, are shown but skipped. Before that,
 *   live accuracy is skipped and they judge. With `requireLiveAccuracy`
 *   they never judge, and a canary step without enough labels waits (short).
 *
 * Then: any fail -> rollback at once; anything short or undecided -> hold,
 * and rollback for lack of evidence once the step is past its maximum
 * duration; all pass -> continue once the minimum duration is reached.
 */
import type { RolloutCriteria, RolloutStep } from '../lifecycle/rollout-config';
import type { CriterionResult, LiveMetrics, StepEvaluation } from './evidence';
import { chiSquareHomogeneity, jensenShannonDistance, twoProportionZTest, wilsonInterval } from './statistics';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const f3 = (x: number) => x.toFixed(3);
/** A z statistic for a reason; +-Infinity when neither side varied. */
const zText = (z: number) => (Number.isFinite(z) ? z.toFixed(2) : String(z));

export function evaluateCriteria(m: LiveMetrics, step: RolloutStep, c: RolloutCriteria): CriterionResult[] {
  const conf = pct(c.confidence);
  const { champion: champ, candidate: cand } = m;
  const results: CriterionResult[] = [];
  const n = step.minSamples;

  results.push({
    name: 'samples',
    verdict: cand.requests >= n ? 'pass' : 'short',
    value: cand.requests,
    threshold: n,
    samples: cand.requests,
    minSamples: n,
    detail: `candidate v${cand.version} ran ${cand.requests} example(s) in ${Math.round(m.windowSeconds)} s (minimum ${n})`,
  });

  const live = liveAccuracy(m, c, step);
  const byLiveAccuracy = live.verdict !== 'skipped' || c.requireLiveAccuracy;
  const superseded = c.requireLiveAccuracy ? ' (shown only: requireLiveAccuracy)' : ' (shown only: live accuracy judges)';

  const { agree, total } = m.agreement;
  const wilson = wilsonInterval(agree, total, c.confidence);
  const agreement = total > 0 ? agree / total : null;
  results.push({
    name: 'agreement',
    verdict: byLiveAccuracy ? 'skipped' : total < n ? 'short' : wilson.low >= c.minAgreement ? 'pass' : wilson.high < c.minAgreement ? 'fail' : 'undecided',
    value: agreement,
    threshold: c.minAgreement,
    samples: total,
    minSamples: n,
    detail: `${agree}/${total} agree (${agreement === null ? 'n/a' : pct(agreement)}), Wilson ${conf} interval [${f3(wilson.low)}, ${f3(wilson.high)}] vs >= ${f3(c.minAgreement)}${byLiveAccuracy ? superseded : ''}`,
  });

  const test = twoProportionZTest(cand.errors, cand.requests, champ.errors, champ.requests, c.errorRatioMargin);
  const candRatio = cand.requests > 0 ? cand.errors / cand.requests : null;
  const champRatio = champ.requests > 0 ? champ.errors / champ.requests : null;
  results.push({
    name: 'error-ratio',
    verdict: cand.requests < n || champ.requests < n ? 'short' : test.pValue < 1 - c.confidence ? 'fail' : 'pass',
    value: candRatio,
    threshold: (champRatio ?? 0) + c.errorRatioMargin,
    samples: Math.min(cand.requests, champ.requests),
    minSamples: n,
    detail:
      `candidate ${cand.errors}/${cand.requests} vs champion ${champ.errors}/${champ.requests} errors; one-sided two-proportion z-test ` +
      `(H1: candidate > champion + ${f3(c.errorRatioMargin)}) z=${zText(test.z)} p=${test.pValue.toPrecision(3)} at ${conf}`,
  });

  const latencyLimit = champ.p99Seconds === null ? null : c.maxLatencyRatio * champ.p99Seconds + c.latencySlackMs / 1000;
  const latencyShort = cand.latencySamples < c.minLatencySamples || champ.latencySamples < c.minLatencySamples || cand.p99Seconds === null || latencyLimit === null;
  results.push({
    name: 'latency-p99',
    verdict: latencyShort ? 'short' : cand.p99Seconds! <= latencyLimit ? 'pass' : 'fail',
    value: cand.p99Seconds,
    threshold: latencyLimit ?? NaN,
    samples: Math.min(cand.latencySamples, champ.latencySamples),
    minSamples: c.minLatencySamples,
    detail: `p99 candidate ${ms(cand.p99Seconds)} vs champion ${ms(champ.p99Seconds)} (limit ${c.maxLatencyRatio}x + ${c.latencySlackMs} ms = ${ms(latencyLimit)})`,
  });

  const candTotal = sum(cand.predictions);
  const champTotal = sum(champ.predictions);
  const distance = candTotal > 0 && champTotal > 0 ? jensenShannonDistance(cand.predictions, champ.predictions) : null;
  const chi = chiSquareHomogeneity(cand.predictions, champ.predictions);
  const distanceVerdict = () => {
    if (candTotal < n || champTotal < n || distance === null) return 'short' as const;
    if (distance <= c.maxClassDistance) return 'pass' as const;
    return chi.pValue < 1 - c.confidence ? ('fail' as const) : ('undecided' as const);
  };
  results.push({
    name: 'class-distance',
    verdict: byLiveAccuracy ? 'skipped' : distanceVerdict(),
    value: distance,
    threshold: c.maxClassDistance,
    samples: Math.min(candTotal, champTotal),
    minSamples: n,
    detail:
      `Jensen-Shannon distance ${distance === null ? 'n/a' : f3(distance)} between predicted-class distributions (${candTotal} vs ${champTotal} predictions) vs <= ${f3(c.maxClassDistance)}; ` +
      `chi-square test of homogeneity chi2=${chi.chi2.toFixed(1)} df=${chi.df} p=${chi.pValue.toPrecision(3)} at ${conf}${byLiveAccuracy ? superseded : ''}`,
  });
  results.push(live);
  return results;
}

/** Live accuracy from ground-truth feedback; 'skipped' until both versions have `minFeedback` labelled answers. */
function liveAccuracy(m: LiveMetrics, c: RolloutCriteria, step: RolloutStep): CriterionResult {
  const fb = m.feedback ?? { champion: { correct: 0, total: 0 }, candidate: { correct: 0, total: 0 } };
  const { champion: champ, candidate: cand } = fb;
  const accuracy = (x: { correct: number; total: number }) => (x.total > 0 ? x.correct / x.total : null);
  const [candAcc, champAcc] = [accuracy(cand), accuracy(champ)];
  const samples = Math.min(cand.total, champ.total);
  const counts = `candidate ${cand.correct}/${cand.total} (${candAcc === null ? 'n/a' : pct(candAcc)}) vs champion ${champ.correct}/${champ.total} (${champAcc === null ? 'n/a' : pct(champAcc)}) correct`;
  if (c.requireLiveAccuracy && step.mode === 'shadow') {
    return { name: 'live-accuracy', verdict: 'skipped', value: candAcc, threshold: NaN, samples, minSamples: c.minFeedback, detail: `${counts}: a shadow candidate answers nobody, so nothing is labelled; errors and latency judge this step` };
  }
  if (samples < c.minFeedback) {
    // Required: wait for labels (short) instead of letting agreement with a drifted champion judge.
    const verdict = c.requireLiveAccuracy ? 'short' : 'skipped';
    return { name: 'live-accuracy', verdict, value: candAcc, threshold: NaN, samples, minSamples: c.minFeedback, detail: `${counts}: fewer than ${c.minFeedback} labelled answers each, ${c.requireLiveAccuracy ? 'waiting for labels' : 'agreement judges'}` };
  }
  // Accuracy worse by more than the margin = wrong answers more frequent by more than the margin.
  const test = twoProportionZTest(cand.total - cand.correct, cand.total, champ.total - champ.correct, champ.total, c.liveAccuracyMargin);
  return {
    name: 'live-accuracy',
    verdict: test.pValue < 1 - c.confidence ? 'fail' : 'pass',
    value: candAcc,
    threshold: (champAcc ?? 0) - c.liveAccuracyMargin,
    samples,
    minSamples: c.minFeedback,
    detail:
      `${counts}; one-sided two-proportion z-test (H1: candidate wrong > champion wrong + ${f3(c.liveAccuracyMargin)}) ` +
      `z=${zText(test.z)} p=${test.pValue.toPrecision(3)} at ${pct(c.confidence)}`,
  };
}

export function decideStep(m: LiveMetrics, step: RolloutStep, c: RolloutCriteria, elapsedMs: number): StepEvaluation {
  const criteria = evaluateCriteria(m, step, c);
  const failed = criteria.filter((r) => r.verdict === 'fail');
  const waiting = criteria.filter((r) => r.verdict === 'short' || r.verdict === 'undecided');
  const base = { elapsedMs, criteria, metrics: m };
  if (failed.length > 0) return { ...base, decision: 'rollback', reason: `failed: ${failed.map(line).join('; ')}` };
  if (waiting.length > 0) {
    const why = waiting.map((r) => `${r.name} ${r.verdict === 'short' ? `${r.samples}/${r.minSamples} samples` : 'undecided'}`).join(', ');
    if (elapsedMs >= step.maxDurationMs) return { ...base, decision: 'rollback', reason: `not enough evidence after ${dur(elapsedMs)} (maximum ${dur(step.maxDurationMs)}): ${why}` };
    return { ...base, decision: 'hold', reason: `waiting for evidence: ${why}` };
  }
  if (elapsedMs < step.minDurationMs) return { ...base, decision: 'hold', reason: `criteria pass; minimum duration ${dur(step.minDurationMs)} not reached (${dur(elapsedMs)})` };
  return { ...base, decision: 'continue', reason: `every criterion passes after ${dur(elapsedMs)}` };
}

function line(r: CriterionResult): string {
  return `${r.name}: ${r.detail}`;
}

function sum(counts: Record<string, number>): number {
  return Object.values(counts).reduce((s, x) => s + x, 0);
}

function ms(seconds: number | null): string {
  return seconds === null || !Number.isFinite(seconds) ? 'n/a' : `${(seconds * 1000).toFixed(1)} ms`;
}

/** "95 s" / "4m05s": short, for reasons. */
export function dur(msValue: number): string {
  const s = Math.round(msValue / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
