import type { WorkflowProgress } from './progress';
import { promotionOutcome, storyOf } from './story';
import type { PromotionDecision } from './types';

const progress = (extra: Partial<WorkflowProgress> = {}): WorkflowProgress => ({
  workflow: 'trainAndPromote',
  modelName: 'fashion-mnist-classifier',
  step: 'done',
  stages: [],
  dataset: { name: 'fashion-mnist-v2', path: 'dvc/data/fashion-mnist-v2', commit: 'a8c8c0f0123456789', digest: '3f2a' },
  model: { name: 'fashion-mnist-classifier', version: '7' },
  ...extra,
});
const decision: PromotionDecision = {
  promote: false,
  metric: 'test_accuracy',
  candidate: 0.873,
  champion: 0.92,
  championVersion: '6',
  splitDigest: 'ffa073aa',
  championSource: 'recorded',
  reason: 'does not beat',
};

describe('the story of a lifecycle execution', () => {
  it('tells a rejected training with the dataset, the new version and both numbers on the split', () => {
    expect(storyOf(progress({ decision }), { kind: 'train', outcome: 'rejected' })).toBe(
      'train fashion-mnist-classifier on fashion-mnist-v2@a8c8c0f -> v7, rejected: test_accuracy 0.8730 vs champion v6 0.9200 on split ffa073',
    );
  });

  it('tells what was asked before the dataset is resolved, and the step it is on', () => {
    const p = progress({ dataset: undefined, model: undefined, step: 'resolving-dataset' });
    expect(storyOf(p, { kind: 'train', datasetRef: { path: 'dvc/data/fashion-mnist-v1' } })).toBe('train fashion-mnist-classifier on dvc/data/fashion-mnist-v1@HEAD: resolving-dataset');
  });

  it('tells a rollback apart from a promotion, and a failure with its reason', () => {
    const rollback = { ...decision, promote: false, forced: true, rollback: true, championVersion: '7', champion: 0.93 };
    expect(promotionOutcome('rollback', true)).toBe('rolled-back');
    expect(storyOf(progress({ model: { name: 'm', version: '5' }, decision: rollback }), { kind: 'rollback', outcome: 'rolled-back' })).toBe(
      'roll fashion-mnist-classifier back to v5, rolled-back: test_accuracy 0.8730 vs champion v7 0.9300 on split ffa073',
    );
    expect(storyOf(progress({ model: undefined, error: 'dvc: no such revision\n  at x' }), { kind: 'train', outcome: 'failed' })).toBe(
      'train fashion-mnist-classifier on fashion-mnist-v2@a8c8c0f, failed: dvc: no such revision at x',
    );
  });
});
