import type { ChampionMeasurement, PromotionDecision } from '../lib/lifecycle/types';

export interface GateInput {
  metric: string;
  candidate: number | null | undefined;
  /** The test split digest of the candidate's metric. */
  splitDigest: string | null;
  /** The champion measured on the same split (null: there is no champion). */
  champion: ChampionMeasurement | null;
  minImprovement: number;
}

/**
 * The promotion gate: a candidate replaces the champion only if it is strictly
 * better on the promotion metric (higher is better) by more than
 * `minImprovement`, both measured on the same held-out split. Pure, so the
 * workflow stays deterministic and the rule is unit-tested.
 */
export function decidePromotion(g: GateInput): PromotionDecision {
  const base = { metric: g.metric, splitDigest: g.splitDigest, championVersion: g.champion?.version ?? null };
  const split = g.splitDigest ? ` on split ${g.splitDigest.slice(0, 12)}` : '';
  if (g.candidate === undefined || g.candidate === null || !Number.isFinite(g.candidate)) {
    return { ...base, promote: false, candidate: NaN, champion: g.champion?.metric ?? null, championSource: g.champion?.source ?? 'none', reason: `candidate has no ${g.metric}` };
  }
  const candidate = g.candidate;
  if (!g.champion) return { ...base, promote: true, candidate, champion: null, championSource: 'none', reason: 'no champion yet' };
  const { version, metric: champion, source } = g.champion;
  if (champion === null || !Number.isFinite(champion)) {
    return {
      ...base,
      promote: false,
      candidate,
      champion: null,
      championSource: source,
      reason: `champion v${version} has no ${g.metric} measured${split}: not comparable (promote --force to override)`,
    };
  }
  const delta = candidate - champion;
  const promote = delta > g.minImprovement;
  const how = source === 'evaluated' ? ' (re-evaluated)' : '';
  return {
    ...base,
    promote,
    candidate,
    champion,
    championSource: source,
    reason: promote
      ? `${g.metric} ${candidate.toFixed(4)} beats champion v${version} ${champion.toFixed(4)}${how} by ${delta.toFixed(4)}${split}`
      : `${g.metric} ${candidate.toFixed(4)} does not beat champion v${version} ${champion.toFixed(4)}${how} by more than ${g.minImprovement}${split}`,
  };
}
