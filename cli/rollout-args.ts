import type { Duration } from '@temporalio/common/lib/time';
import { parseInput } from '../lib/lifecycle/input';
import { rolloutInputSchema, rolloutStrategies, type RolloutInput, type RolloutStepConfig } from '../lib/lifecycle/rollout-config';
import { UsageError } from './args';

/** The rollout options of `train` and `promote`. */
export const rolloutOptions = {
  strategy: { type: 'string' },
  steps: { type: 'string' },
  'min-samples': { type: 'string' },
  'analysis-interval': { type: 'string' },
  'require-approval': { type: 'boolean' },
} as const;

export interface RolloutValues {
  strategy?: string;
  steps?: string;
  'min-samples'?: string;
  'analysis-interval'?: string;
  'require-approval'?: boolean;
}

/** "20%" or "0.2" -> 0.2. */
export function parseShare(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const share = m ? Number(m[1]) / (m[2] ? 100 : 1) : NaN;
  if (!(share > 0 && share <= 1)) throw new UsageError(`share ${JSON.stringify(text)}: give a percentage (20%) or a fraction (0.2) above 0 and at most 100%`);
  return share;
}

/**
 * `--steps shadow:100%:30s,canary:20%:30s`: mode:share:minDuration per step,
 * with an optional fourth field for the maximum duration (`canary:20%:30s:2m`).
 */
export function parseSteps(text: string, minSamples?: number): RolloutInput['steps'] {
  const steps = text.split(',').map((part) => part.trim()).filter(Boolean);
  if (steps.length === 0) throw new UsageError('--steps: give at least one step, e.g. shadow:100%:30s,canary:20%:30s');
  return steps.map((part): RolloutStepConfig => {
    const fields = part.split(':');
    if (fields.length < 3 || fields.length > 4) throw new UsageError(`--steps ${part}: expected mode:share:minDuration[:maxDuration], e.g. canary:20%:30s`);
    const [mode, share, minDuration, maxDuration] = fields as [string, string, string, string | undefined];
    if (mode !== 'shadow' && mode !== 'canary') throw new UsageError(`--steps ${part}: mode must be shadow or canary`);
    // Durations are checked with the rest of the input (parseInput below names the bad one).
    return { mode, share: parseShare(share), minDuration: minDuration as Duration, ...(maxDuration ? { maxDuration: maxDuration as Duration } : {}), minSamples: minSamples ?? 500 };
  });
}

/** The workflow's `rollout` input from the options, validated (undefined: the workflow's defaults). */
export function rolloutInput(v: RolloutValues): RolloutInput | undefined {
  if (v.strategy === undefined && v.steps === undefined && v['min-samples'] === undefined && v['analysis-interval'] === undefined && !v['require-approval']) return undefined;
  if (v.strategy !== undefined && !(rolloutStrategies as readonly string[]).includes(v.strategy)) throw new UsageError(`--strategy must be one of ${rolloutStrategies.join(', ')}`);
  const minSamples = v['min-samples'] === undefined ? undefined : Number(v['min-samples']);
  if (minSamples !== undefined && !(Number.isInteger(minSamples) && minSamples > 0)) throw new UsageError('--min-samples must be a positive integer');
  if (minSamples !== undefined && v.steps === undefined) throw new UsageError('--min-samples goes with --steps');
  const input: RolloutInput = {
    ...(v.strategy ? { strategy: v.strategy as RolloutInput['strategy'] } : {}),
    ...(v.steps !== undefined ? { steps: parseSteps(v.steps, minSamples) } : {}),
    ...(v['analysis-interval'] ? { analysisInterval: v['analysis-interval'] } : {}),
    ...(v['require-approval'] ? { requireApproval: true } : {}),
  };
  parseInput(rolloutInputSchema, input, 'rollout');
  return input;
}
