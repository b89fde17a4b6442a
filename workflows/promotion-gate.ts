import type { ChampionInfo, PromotionDecision } from '../lib/lifecycle/types';

/**
 * The promotion gate: a candidate replaces the champion only if it is strictly
 * better on the promotion metric (higher is better) by more than `minImprovement`.
 * Pure, so the workflow stays deterministic and the rule is unit-tested.
 */
export function decidePromotion(
  metric: string,
  candidate: number | undefined,
  champion: ChampionInfo | null,
  minImprovement: number,
): PromotionDecision {
  if (candidate === undefined || !Number.isFinite(candidate)) {
    return { promote: false, metric, candidate: NaN, champion: champion?.metric ?? null, championVersion: champion?.version ?? null, reason: `candidate has no ${metric}` };
  }
  if (!champion) {
    return { promote: true, metric, candidate, champion: null, championVersion: null, reason: 'no champion yet' };
  }
  if (champion.metric === null) {
    return { promote: true, metric, candidate, champion: null, championVersion: champion.version, reason: `champion v${champion.version} has no recorded ${metric}` };
  }
  const delta = candidate - champion.metric;
  const promote = delta > minImprovement;
  return {
    promote,
    metric,
    candidate,
    champion: champion.metric,
    championVersion: champion.version,
    reason: promote
      ? `${metric} ${candidate.toFixed(4)} beats champion v${champion.version} ${champion.metric.toFixed(4)} by ${delta.toFixed(4)}`
      : `${metric} ${candidate.toFixed(4)} does not beat champion v${champion.version} ${champion.metric.toFixed(4)} by more than ${minImprovement}`,
  };
}
