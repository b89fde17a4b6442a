import type { WorkflowProgress } from './progress';
import { decisionLine, progressBar, renderProgress, rolloutLine, trainingLine, type WorkflowSnapshot } from './progress-view';

const progress = (over: Partial<WorkflowProgress> = {}): WorkflowProgress => ({
  workflow: 'trainAndPromote',
  modelName: 'm',
  step: 'training',
  stages: [
    { name: 'dataset', state: 'done', detail: 'v2@abc (d1)', startedAt: 0, endedAt: 1500 },
    { name: 'training', state: 'running' },
    { name: 'gate', state: 'pending' },
  ],
  ...over,
});
const snap = (over: Partial<WorkflowSnapshot> = {}): WorkflowSnapshot => ({ workflowId: 'w', status: 'RUNNING', progress: progress(), pending: [], ...over });

describe('progress view', () => {
  it('draws a bar', () => {
    expect(progressBar(0.5, 10)).toBe('[█████░░░░░]  50%');
    expect(progressBar(2, 4)).toBe('[████] 100%');
  });

  it('shows the epoch bar with loss and accuracy from the training heartbeat', () => {
    const line = trainingLine({ phase: 'training', epoch: 2, epochs: 4, step: 150, steps_per_epoch: 100, loss: 0.41234, val_accuracy: 0.87 }, 1);
    expect(line).toBe(`epoch 2/4 ${progressBar(0.375)}  loss 0.4123  acc 0.8700`);
  });

  it('says when a retried attempt resumed from a checkpoint', () => {
    expect(trainingLine({ phase: 'training', epoch: 3, epochs: 4, resumedFromEpoch: 2 }, 2)).toMatch(/\(attempt 2, resumed after epoch 2\)$/);
  });

  it('shows rollout worker i of n', () => {
    expect(rolloutLine({ phase: 'rollout', version: '4', done: 1, of: 3, worker: 'w2' })).toBe('rollout v4: worker 2 of 3 (w2)');
  });

  it('shows both numbers of the gate and the split they come from', () => {
    const line = decisionLine({ promote: true, metric: 'test_accuracy', candidate: 0.92, champion: 0.91, championVersion: '3', splitDigest: 'abcdef0123456789', championSource: 'evaluated', reason: '' });
    expect(line).toBe('test_accuracy 0.9200 vs champion v3 0.9100 (re-evaluated) on test split abcdef012345 → promote');
  });

  it('renders one line per stage with the live detail of the running one', () => {
    const lines = renderProgress(snap({ pending: [{ type: 'trainModel', attempt: 1, details: { phase: 'dataset', message: 'dvc pull data/x (70001 files)' } }] }));
    expect(lines).toEqual(['trainAndPromote w  model m  [RUNNING]', '  ✔ dataset      v2@abc (d1)  1.5 s', '  ▶ training     dvc pull data/x (70001 files)', '  · gate         ']);
  });

  it('names the failure once the workflow ended', () => {
    const lines = renderProgress(snap({ status: 'FAILED', progress: progress({ step: 'failed', error: 'worker w2 failed the golden check' }) }));
    expect(lines.at(-1)).toBe('  failed: worker w2 failed the golden check');
  });
});
