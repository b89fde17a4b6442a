import type { CliContext } from '../config';
import { trainInput } from './train';

const ctx = { model: 'm', config: { TRAINING_TASK_QUEUE: 'ml-training' } } as unknown as CliContext;

describe('lifecycle train: rollout options', () => {
  it('leaves the rollout to the workflow by default (progressive when a champion is replaced)', () => {
    expect(trainInput(ctx, {}).rollout).toBeUndefined();
  });

  it('passes --strategy and --steps to the workflow input', () => {
    expect(trainInput(ctx, { strategy: 'progressive', steps: 'shadow:100%:30s,canary:20%:30s', 'min-samples': '50' }).rollout).toEqual({
      strategy: 'progressive',
      steps: [
        { mode: 'shadow', share: 1, minDuration: '30s', minSamples: 50 },
        { mode: 'canary', share: 0.2, minDuration: '30s', minSamples: 50 },
      ],
    });
    expect(trainInput(ctx, { strategy: 'all-at-once' }).rollout).toEqual({ strategy: 'all-at-once' });
  });

  it('refuses bad steps before anything starts', () => {
    expect(() => trainInput(ctx, { steps: 'canary:200%:30s' })).toThrow(/share "200%"/);
  });
});
