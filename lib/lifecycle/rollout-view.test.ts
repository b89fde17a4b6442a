import { decideStep } from '../analysis/decide';
import type { LiveMetrics } from '../analysis/evidence';
import { stepRecord } from '../analysis/rollout-record';
import type { RolloutProgress } from './progress';
import { resolvedSteps, rolloutCriteriaSchema, rolloutInputSchema } from './rollout-config';
import { rolloutLines } from './rollout-view';

const steps = resolvedSteps(rolloutInputSchema.parse({}));
const criteria = rolloutCriteriaSchema.parse({});
const live = (n: number): LiveMetrics => ({
  champion: { version: '1', requests: 2000, errors: 0, p99Seconds: 0.004, latencySamples: 500, predictions: { a: 1000, b: 1000 } },
  candidate: { version: '2', requests: n, errors: 0, p99Seconds: 0.004, latencySamples: n, predictions: { a: n / 2, b: n / 2 } },
  agreement: { agree: Math.round(n * 0.95), total: n },
  windowSeconds: 300,
});

describe('rolloutLines', () => {
  it('shows the steps, the current one with its time, the latest decision and every criterion', () => {
    const passed = decideStep(live(1000), steps[0]!, criteria, 301_000);
    const holding = decideStep(live(120), steps[1]!, criteria, 200_000);
    const r: RolloutProgress = {
      strategy: 'progressive',
      state: 'running',
      championVersion: '1',
      steps,
      stepIndex: 1,
      pausedMs: 0,
      timeInStepMs: 200_000,
      latest: holding,
      history: [stepRecord(0, 'shadow', 1, passed)],
      lastAction: { action: 'resume', by: 'alice', at: 0 },
    };
    const text = rolloutLines(r).join('\n');
    expect(text).toMatch(/progressive vs champion v1: running, step 2\/3 for 3m20s/);
    expect(text).toMatch(/✔ 1\. shadow 100% {2}continue after 301 s: n=1000, agreement 0.95/);
    expect(text).toMatch(/▶ 2\. canary 10% {2}min 10m00s, max 30m00s, 300 samples/);
    expect(text).toMatch(/· 3\. canary 50%/);
    expect(text).toMatch(/latest: hold: waiting for evidence: samples 120\/300 samples/);
    expect(text).toMatch(/short {5}agreement/);
    expect(text).toMatch(/last action: resume by alice/);
  });

  it('says nothing for an all-at-once promotion', () => {
    expect(rolloutLines({ strategy: 'all-at-once', state: 'passed', championVersion: '1', steps: [], stepIndex: 0, pausedMs: 0, timeInStepMs: 0, history: [] })).toEqual([]);
  });
});
