import { UsageError } from './args';
import { parseShare, parseSteps, rolloutInput } from './rollout-args';
import { InvalidInputError } from '../lib/lifecycle/input';

describe('parseShare', () => {
  it('reads a percentage or a fraction', () => {
    expect(parseShare('20%')).toBe(0.2);
    expect(parseShare('100%')).toBe(1);
    expect(parseShare('0.05')).toBe(0.05);
    expect(parseShare('12.5%')).toBe(0.125);
  });

  it.each(['0%', '0', '150%', '1.5', 'ten', '-5%', ''])('refuses %j', (text) => {
    expect(() => parseShare(text)).toThrow(UsageError);
  });
});

describe('parseSteps', () => {
  it('reads mode:share:minDuration steps', () => {
    expect(parseSteps('shadow:100%:30s,canary:20%:30s')).toEqual([
      { mode: 'shadow', share: 1, minDuration: '30s', minSamples: 500 },
      { mode: 'canary', share: 0.2, minDuration: '30s', minSamples: 500 },
    ]);
  });

  it('takes an optional maximum duration and the --min-samples of every step', () => {
    expect(parseSteps('canary:10%:1m:5m', 50)).toEqual([{ mode: 'canary', share: 0.1, minDuration: '1m', maxDuration: '5m', minSamples: 50 }]);
  });

  it('names the bad step', () => {
    expect(() => parseSteps('shadow:100%')).toThrow(/shadow:100%: expected mode:share:minDuration/);
    expect(() => parseSteps('blue:10%:30s')).toThrow(/mode must be shadow or canary/);
    expect(() => parseSteps(',')).toThrow(/at least one step/);
  });
});

describe('rolloutInput', () => {
  it('is undefined without rollout options (the workflow decides)', () => {
    expect(rolloutInput({})).toBeUndefined();
  });

  it('builds the workflow input', () => {
    expect(rolloutInput({ strategy: 'progressive', steps: 'shadow:100%:30s', 'min-samples': '20', 'analysis-interval': '5s', 'require-approval': true })).toEqual({
      strategy: 'progressive',
      steps: [{ mode: 'shadow', share: 1, minDuration: '30s', minSamples: 20 }],
      analysisInterval: '5s',
      requireApproval: true,
    });
    expect(rolloutInput({ strategy: 'all-at-once' })).toEqual({ strategy: 'all-at-once' });
  });

  it('refuses a bad strategy, a bad --min-samples, and durations the workflow would refuse', () => {
    expect(() => rolloutInput({ strategy: 'yolo' })).toThrow(/--strategy must be one of progressive, all-at-once/);
    expect(() => rolloutInput({ steps: 'shadow:100%:30s', 'min-samples': '0' })).toThrow(/--min-samples must be a positive integer/);
    expect(() => rolloutInput({ 'min-samples': '10' })).toThrow(/goes with --steps/);
    expect(() => rolloutInput({ steps: 'shadow:100%:soon' })).toThrow(InvalidInputError);
    expect(() => rolloutInput({ steps: 'canary:10%:5m:1m' })).toThrow(/maxDuration: shorter than minDuration/);
  });
});
