import { parseInput, promoteVersionInputSchema, trainAndPromoteInputSchema } from './input';
import { effectiveStrategy, resolvedSteps, rolloutInputSchema } from './rollout-config';

describe('rollout config', () => {
  const defaults = rolloutInputSchema.parse({});

  it('defaults to shadow 100% 5m, canary 10% 10m, canary 50% 10m with maxima and minimum samples', () => {
    expect(resolvedSteps(defaults)).toEqual([
      { mode: 'shadow', share: 1, minDurationMs: 300_000, maxDurationMs: 900_000, minSamples: 500 },
      { mode: 'canary', share: 0.1, minDurationMs: 600_000, maxDurationMs: 1_800_000, minSamples: 300 },
      { mode: 'canary', share: 0.5, minDurationMs: 600_000, maxDurationMs: 1_800_000, minSamples: 1000 },
    ]);
    expect(defaults.criteria).toMatchObject({ confidence: 0.95, minAgreement: 0.85, errorRatioMargin: 0.01, maxLatencyRatio: 1.5, maxClassDistance: 0.15 });
    expect(defaults.requireApproval).toBe(false);
  });

  it('is on both workflow inputs, progressive unless said otherwise', () => {
    expect(parseInput(trainAndPromoteInputSchema, {}, 'x').rollout.strategy).toBeUndefined();
    expect(parseInput(promoteVersionInputSchema, { version: '3' }, 'x').rollout.steps).toHaveLength(3);
  });

  it('derives a missing maximum duration: 3x the minimum', () => {
    const r = rolloutInputSchema.parse({ steps: [{ mode: 'canary', share: 0.2, minDuration: '30s' }], analysisInterval: '10s' });
    expect(resolvedSteps(r)[0]).toMatchObject({ minDurationMs: 30_000, maxDurationMs: 90_000, minSamples: 500 });
  });

  it('refuses a bad step with the field named', () => {
    expect(() => parseInput(trainAndPromoteInputSchema, { rollout: { steps: [{ mode: 'blue', share: 0.1, minDuration: '1m' }] } }, 'trainAndPromote')).toThrow(/rollout.steps.0.mode/);
    expect(() => parseInput(trainAndPromoteInputSchema, { rollout: { steps: [{ mode: 'canary', share: 2, minDuration: '1m' }] } }, 'trainAndPromote')).toThrow(/rollout.steps.0.share/);
    expect(() => parseInput(trainAndPromoteInputSchema, { rollout: { steps: [] } }, 'trainAndPromote')).toThrow(/rollout.steps/);
    expect(() => parseInput(trainAndPromoteInputSchema, { rollout: { strategy: 'yolo' } }, 'trainAndPromote')).toThrow(/rollout.strategy/);
  });

  it('goes all at once for the first champion, without deploy, for a rollback, and when asked', () => {
    const base = { championVersion: '3', deploy: true, rollback: false };
    expect(effectiveStrategy(defaults, base)).toBe('progressive');
    expect(effectiveStrategy(defaults, { ...base, championVersion: null })).toBe('all-at-once');
    expect(effectiveStrategy(defaults, { ...base, deploy: false })).toBe('all-at-once');
    expect(effectiveStrategy(defaults, { ...base, rollback: true })).toBe('all-at-once');
    expect(effectiveStrategy({ ...defaults, strategy: 'progressive' }, { ...base, rollback: true })).toBe('progressive');
    expect(effectiveStrategy({ ...defaults, strategy: 'all-at-once' }, base)).toBe('all-at-once');
    expect(effectiveStrategy({ ...defaults, strategy: 'progressive' }, { ...base, championVersion: null })).toBe('all-at-once');
  });
});
