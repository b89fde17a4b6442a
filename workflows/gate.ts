import type { ChampionInfo, ChampionMeasurement, PromotionDecision, RegisteredVersion, ResolvedDataset } from '../lib/lifecycle/types';
import type { LifecycleActivities } from './activities';
import { decidePromotion } from './promotion-gate';

export interface Candidate {
  model: RegisteredVersion;
  /** Its value of the promotion metric (measured by its trainer on its own test split). */
  value: number | null;
  splitDigest: string | null;
  /** Its dataset, pinned: where the champion is measured when the splits differ. */
  dataset: ResolvedDataset | null;
}

/** Metrics the evaluation activity can measure on any split. */
const EVALUABLE = new Set(['test_accuracy']);

/**
 * The fair promotion gate: compares the candidate with the champion of the
 * same registered model on the same held-out split. The champion's recorded
 * number counts only if it was measured on the candidate's split (same
 * digest); otherwise a number measured earlier on that split is reused, or the
 * evaluation activity (training queue: it has the data) measures it now.
 */
export async function fairGate(acts: LifecycleActivities, c: Candidate, metric: string, minImprovement: number): Promise<PromotionDecision> {
  const champion = await acts.registry.getChampion(c.model.name, metric);
  if (champion?.version === c.model.version) {
    return { promote: false, metric, candidate: c.value ?? NaN, champion: c.value, championVersion: champion.version, splitDigest: c.splitDigest, championSource: 'recorded', reason: `v${c.model.version} is already the champion` };
  }
  const measured = champion ? await measureChampion(acts, champion, c, metric) : null;
  return decidePromotion({ metric, candidate: c.value, splitDigest: c.splitDigest, champion: measured, minImprovement });
}

async function measureChampion(acts: LifecycleActivities, champion: ChampionInfo, c: Candidate, metric: string): Promise<ChampionMeasurement> {
  const split = c.splitDigest;
  if (split === null) {
    // A candidate from before split digests were recorded: nothing better than the recorded number exists.
    return { version: champion.version, metric: champion.metric, splitDigest: champion.splitDigest ?? 'unknown', source: 'recorded' };
  }
  if (champion.splitDigest === split && champion.metric !== null) return { version: champion.version, metric: champion.metric, splitDigest: split, source: 'recorded' };
  const earlier = champion.evaluations[split];
  if (earlier !== undefined) return { version: champion.version, metric: earlier, splitDigest: split, source: 'evaluated' };
  if (!EVALUABLE.has(metric) || !c.dataset) return { version: champion.version, metric: null, splitDigest: split, source: 'evaluated' };
  const result = await acts.evaluation.evaluateVersion({ model: { name: c.model.name, version: champion.version }, dataset: c.dataset, splitDigest: split });
  return { version: champion.version, metric: result.test_accuracy, splitDigest: split, source: 'evaluated' };
}
