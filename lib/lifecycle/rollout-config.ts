/**
 * The `rollout` input of trainAndPromote and promoteVersion: how a promotion
 * that replaces a champion reaches the fleet. Pure (zod only), so the
 * workflow bundle can import it. The defaults are justified in the README
 * ("Progressive delivery"); in short:
 *
 * - shadow 100% for 5 minutes first: the user never sees the candidate's
 *   answers, so the whole live distribution can be compared at no risk;
 * - canary 10% then 50%, 10 minutes each: a bad model that shadow missed
 *   answers few users, and 50% gives the latency comparison real load;
 * - each step holds up to 3x its minimum for enough samples, then rolls
 *   back ("not enough evidence") rather than promote on a guess.
 */
import { z } from 'zod';
import { msToNumber, type Duration } from '@temporalio/common/lib/time';
import { trafficModes } from '../fleet/protocol';
import { durationSchema } from './duration';

export const rolloutStrategies = ['progressive', 'all-at-once'] as const;
export type RolloutStrategy = (typeof rolloutStrategies)[number];

export const rolloutStepSchema = z
  .object({
    /** shadow: the candidate also runs `share` of requests (users get the champion); canary: it answers `share` of them. */
    mode: z.enum(trafficModes),
    share: z.number().gt(0).max(1),
    /** The step never continues earlier, even when every criterion already passes (a short burst is not evidence). */
    minDuration: durationSchema,
    /** Held (not enough samples, or a criterion still undecided) past this: rolled back for lack of evidence. */
    maxDuration: durationSchema.optional(),
    /** Minimum samples of every criterion (candidate requests, agreement pairs, predictions). */
    minSamples: z.number().int().positive().default(500),
  })
  .strict();
export type RolloutStepConfig = z.output<typeof rolloutStepSchema>;

/** The thresholds of the live analysis (lib/analysis/decide.ts says how each is tested). */
export const rolloutCriteriaSchema = z
  .object({
    /** Confidence of the statistical tests (Wilson interval for agreement, one-sided two-proportion z-test for errors). */
    confidence: z.number().min(0.5).max(0.999).default(0.95),
    /** Share of examples where the candidate's top-1 equals the champion's. */
    minAgreement: z.number().min(0).max(1).default(0.85),
    /** How much higher the candidate's error ratio may be than the champion's (absolute) before it counts as worse. */
    errorRatioMargin: z.number().min(0).max(1).default(0.01),
    /** Candidate p99 inference latency may be at most this times the champion's... */
    maxLatencyRatio: z.number().min(1).default(1.5),
    /** ...plus this many milliseconds (sub-millisecond batches make a bare ratio too strict). */
    latencySlackMs: z.number().min(0).default(5),
    /** Inference runs (batches) of each version before p99 means anything (a p99 of fewer runs is their maximum). */
    minLatencySamples: z.number().int().positive().default(100),
    /** Jensen-Shannon distance (base 2, 0..1) between the two versions' predicted-class distributions. */
    maxClassDistance: z.number().min(0).max(1).default(0.15),
    /**
     * Ground-truth labels (POST /feedback) on each version's answers in the step's window before
     * live accuracy judges the candidate; from then on agreement and class distance with the
     * champion are shown but no longer decide (a champion that drift made wrong is no yardstick).
     */
    minFeedback: z.number().int().positive().default(200),
    /** How much lower the candidate's live accuracy may be than the champion's (absolute) before it counts as worse. */
    liveAccuracyMargin: z.number().min(0).max(1).default(0.02),
    /**
     * Judge canary steps by live accuracy only: agreement and class distance never decide, and a
     * canary step waits (then rolls back at its maximum duration) until `minFeedback` labels exist.
     * Shadow steps, whose candidate answers nobody, judge errors and latency only. For a candidate
     * retrained because the champion drifted (curation sets it): disagreeing with that champion is
     * the point, so it is no evidence either way. Needs labels flowing during the rollout.
     */
    requireLiveAccuracy: z.boolean().default(false),
  })
  .strict();
export type RolloutCriteria = z.output<typeof rolloutCriteriaSchema>;

export const DEFAULT_ROLLOUT_STEPS: RolloutStepConfig[] = [
  { mode: 'shadow', share: 1, minDuration: '5 minutes', maxDuration: '15 minutes', minSamples: 500 },
  { mode: 'canary', share: 0.1, minDuration: '10 minutes', maxDuration: '30 minutes', minSamples: 300 },
  { mode: 'canary', share: 0.5, minDuration: '10 minutes', maxDuration: '30 minutes', minSamples: 1000 },
];

export const rolloutInputSchema = z
  .object({
    /** Unset: progressive when a champion is replaced, all at once for the first champion and for `lifecycle rollback`. */
    strategy: z.enum(rolloutStrategies).optional(),
    steps: z.array(rolloutStepSchema).min(1).max(10).default(DEFAULT_ROLLOUT_STEPS),
    criteria: rolloutCriteriaSchema.default(rolloutCriteriaSchema.parse({})),
    /** Wait for `lifecycle approve` after the last step, before the full rollout. */
    requireApproval: z.boolean().default(false),
    /** Time between two analyses of a step (each a durable timer). */
    analysisInterval: durationSchema.default('30 seconds'),
  })
  .strict()
  .superRefine((r, ctx) => {
    r.steps.forEach((s, i) => {
      if (s.maxDuration !== undefined && ms(s.maxDuration) < ms(s.minDuration)) {
        ctx.addIssue({ code: 'custom', path: ['steps', i, 'maxDuration'], message: 'shorter than minDuration' });
      }
    });
  });
export type RolloutInput = z.input<typeof rolloutInputSchema>;
export type RolloutConfig = z.output<typeof rolloutInputSchema>;

/** A step with its durations in milliseconds; maxDuration defaults to 3x minDuration (at least one analysis interval more). */
export interface RolloutStep {
  mode: (typeof trafficModes)[number];
  share: number;
  minDurationMs: number;
  maxDurationMs: number;
  minSamples: number;
}

export function resolvedSteps(r: RolloutConfig): RolloutStep[] {
  const interval = ms(r.analysisInterval);
  return r.steps.map((s) => {
    const min = ms(s.minDuration);
    return { mode: s.mode, share: s.share, minDurationMs: min, maxDurationMs: s.maxDuration !== undefined ? ms(s.maxDuration) : Math.max(3 * min, min + interval), minSamples: s.minSamples };
  });
}

/**
 * The strategy a promotion runs: all at once when there is no champion to
 * compare with, when nothing is deployed, and for a rollback (an operator
 * going back to a known version), unless the input names a strategy.
 */
export function effectiveStrategy(r: RolloutConfig, ctx: { championVersion: string | null; deploy: boolean; rollback: boolean }): RolloutStrategy {
  if (ctx.championVersion === null || !ctx.deploy) return 'all-at-once';
  return r.strategy ?? (ctx.rollback ? 'all-at-once' : 'progressive');
}

function ms(d: Duration): number {
  return msToNumber(d);
}
