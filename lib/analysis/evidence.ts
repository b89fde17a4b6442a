/**
 * The evidence of one analysis of a progressive-rollout step: what the
 * analysis activity measured in Prometheus (per version) and what the pure
 * decision made of it. Crosses the activity boundary and is written on the
 * model version, so each type comes from its schema.
 */
import { z } from 'zod';

export const versionStatsSchema = z.object({
  version: z.string(),
  /** Examples the version ran in the window (answered, shadow or mirrored). */
  requests: z.number().nonnegative(),
  errors: z.number().nonnegative(),
  /** p99 of one inference run (histogram_quantile), null without observations. */
  p99Seconds: z.number().nonnegative().nullable(),
  /** Inference runs (histogram observations) behind the p99. */
  latencySamples: z.number().nonnegative(),
  /** Top-1 predicted class -> count. */
  predictions: z.record(z.string(), z.number().nonnegative()),
});
export type VersionStats = z.infer<typeof versionStatsSchema>;

export const liveMetricsSchema = z.object({
  champion: versionStatsSchema,
  candidate: versionStatsSchema,
  /** Examples both versions ran, by whether their top-1 agreed. */
  agreement: z.object({ agree: z.number().nonnegative(), total: z.number().nonnegative() }),
  /** Seconds of the Prometheus window (since the step's traffic reached the fleet). */
  windowSeconds: z.number().nonnegative(),
  /**
   * Ground-truth feedback in the window on the answers each version gave
   * (lifecycle_feedback_total): what live accuracy is judged on. Optional so
   * the evidence of analyses recorded before it existed still parses.
   */
  feedback: z
    .object({ champion: z.object({ correct: z.number().nonnegative(), total: z.number().nonnegative() }), candidate: z.object({ correct: z.number().nonnegative(), total: z.number().nonnegative() }) })
    .optional(),
});
export type LiveMetrics = z.infer<typeof liveMetricsSchema>;

export const criterionNames = ['samples', 'agreement', 'error-ratio', 'latency-p99', 'class-distance', 'live-accuracy'] as const;
/**
 * pass / fail: decided; short: below its minimum samples; undecided: enough
 * samples, but the test cannot tell yet; skipped: measured and shown, but not
 * part of this decision (live accuracy without enough feedback; agreement and
 * class distance once live accuracy judges).
 */
export const verdicts = ['pass', 'fail', 'short', 'undecided', 'skipped'] as const;

export const criterionResultSchema = z.object({
  name: z.enum(criterionNames),
  verdict: z.enum(verdicts),
  /** The measured value (a ratio, seconds, a distance), null when nothing was measured. */
  value: z.number().nullable(),
  threshold: z.number(),
  samples: z.number(),
  minSamples: z.number(),
  /** The test and its numbers, in words. */
  detail: z.string(),
});
export type CriterionResult = z.infer<typeof criterionResultSchema>;

export const stepDecisions = ['continue', 'hold', 'rollback'] as const;
export type StepDecision = (typeof stepDecisions)[number];

export const stepEvaluationSchema = z.object({
  decision: z.enum(stepDecisions),
  reason: z.string(),
  /** Time the step has counted (workflow time since traffic was applied, pauses excluded). */
  elapsedMs: z.number(),
  criteria: z.array(criterionResultSchema),
  metrics: liveMetricsSchema,
});
export type StepEvaluation = z.infer<typeof stepEvaluationSchema>;
