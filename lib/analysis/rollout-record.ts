/**
 * What a progressive rollout leaves on the candidate version: one compact JSON
 * tag (VERSION_TAGS.rollout) with each finished step's deciding analysis and
 * the final outcome, so the evidence survives the workflow and stays within
 * the registry's few-tags rule. The full numbers of every analysis are in the
 * workflow's history and its progress query.
 */
import { z } from 'zod';
import { trafficModes } from '../fleet/protocol';
import { stepDecisions, type StepEvaluation } from './evidence';

export const stepRecordSchema = z.object({
  step: z.number().int().positive(),
  mode: z.enum(trafficModes),
  share: z.number(),
  decision: z.enum(stepDecisions),
  reason: z.string(),
  elapsedS: z.number(),
  /** Candidate examples, and agreement / error ratios / p99 (ms) / class distance as measured (null: nothing measured). */
  n: z.number(),
  agreement: z.number().nullable(),
  errors: z.object({ candidate: z.number().nullable(), champion: z.number().nullable() }),
  p99Ms: z.object({ candidate: z.number().nullable(), champion: z.number().nullable() }),
  classDistance: z.number().nullable(),
  /** Verdict per criterion: name -> pass | fail | short | undecided. */
  verdicts: z.record(z.string(), z.string()),
});
export type StepRecord = z.infer<typeof stepRecordSchema>;

export const rolloutOutcomes = ['in-progress', 'passed', 'rolled-back'] as const;
export const rolloutRecordSchema = z.object({
  outcome: z.enum(rolloutOutcomes),
  champion: z.string(),
  reason: z.string().optional(),
  steps: z.array(stepRecordSchema),
});
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>;

const round = (x: number | null, digits = 4) => (x === null || !Number.isFinite(x) ? null : Number(x.toFixed(digits)));
const ratio = (a: number, b: number) => (b > 0 ? round(a / b) : null);

/** One step's deciding analysis, compacted. */
export function stepRecord(index: number, mode: StepRecord['mode'], share: number, e: StepEvaluation): StepRecord {
  const { champion, candidate, agreement } = e.metrics;
  return {
    step: index + 1,
    mode,
    share,
    decision: e.decision,
    reason: e.reason.slice(0, 400),
    elapsedS: Math.round(e.elapsedMs / 1000),
    n: Math.round(candidate.requests),
    agreement: ratio(agreement.agree, agreement.total),
    errors: { candidate: ratio(candidate.errors, candidate.requests), champion: ratio(champion.errors, champion.requests) },
    p99Ms: { candidate: round(candidate.p99Seconds === null ? null : candidate.p99Seconds * 1000, 2), champion: round(champion.p99Seconds === null ? null : champion.p99Seconds * 1000, 2) },
    classDistance: round(e.criteria.find((c) => c.name === 'class-distance')?.value ?? null),
    verdicts: Object.fromEntries(e.criteria.map((c) => [c.name, c.verdict])),
  };
}

/** MLflow keeps at most 5000 characters of a version tag: long reasons are cut first, the numbers are kept. */
export const MAX_TAG_CHARS = 5000;

export function recordTagValue(r: RolloutRecord): string {
  let json = JSON.stringify(r);
  for (let keep = 200; json.length > MAX_TAG_CHARS && keep >= 0; keep -= 50) {
    json = JSON.stringify({ ...r, reason: r.reason?.slice(0, keep), steps: r.steps.map((s) => ({ ...s, reason: s.reason.slice(0, keep) })) });
  }
  return json;
}
