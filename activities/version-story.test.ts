import type { ModelVersion, Run } from '../lib/mlflow/client';
import { championHistory, versionDescription } from './version-story';

const SPLIT = 'ffa073'.padEnd(64, '0');
const gate = {
  promote: false,
  metric: 'test_accuracy',
  candidate: 0.873,
  champion: 0.92,
  championVersion: '6',
  splitDigest: SPLIT,
  championSource: 'recorded',
  reason: 'r',
  decision: 'reject',
  by: 'trainAndPromote wf',
  at: '2026-12-03T07:41:00.000Z',
};
const version = (extra: Partial<ModelVersion> = {}): ModelVersion => ({
  name: 'm',
  version: '7',
  source: 'models:/m-1',
  run_id: 'r1',
  tags: [
    { key: 'lifecycle.dataset.test_digest', value: SPLIT },
    { key: 'lifecycle.dataset_digest', value: '3f2a9c1d00' },
    { key: 'lifecycle.outcome', value: 'rejected' },
    { key: 'lifecycle.gate.evidence', value: JSON.stringify(gate) },
  ],
  ...extra,
});
const run = {
  info: { run_id: 'r1' },
  data: {
    metrics: [{ key: 'test_accuracy', value: 0.873, timestamp: 0, step: 0 }],
    tags: [
      { key: 'lifecycle.dataset.name', value: 'fashion-mnist-v2' },
      { key: 'lifecycle.dataset.commit', value: 'a8c8c0f99' },
      { key: 'lifecycle.workflow_id', value: 'wf' },
    ],
  },
} as unknown as Run;

describe('version descriptions', () => {
  it('name the metric on its split and dataset, the outcome and the gate with both numbers', () => {
    expect(versionDescription(version(), run)).toBe(
      '**test_accuracy 0.8730** on held-out split ffa073 of fashion-mnist-v2@a8c8c0f (DVC md5 3f2a9c1d), trained by workflow wf.\n\n' +
        'Outcome: **rejected**. Gate: test_accuracy 0.8730 vs champion v6 0.9200 on split ffa073: reject.',
    );
  });

  it('append an event once, and keep only the newest events', () => {
    let mv = version();
    for (let i = 0; i < 20; i++) mv = { ...mv, description: versionDescription(mv, run, `event ${i}`) };
    const again = versionDescription(mv, run, 'event 19');
    expect(again).toBe(mv.description);
    expect(again).toContain('- event 19');
    expect(again).not.toContain('- event 7\n');
    expect(again.split('\n').filter((l) => l.startsWith('- '))).toHaveLength(12);
  });

  it('reads a champion history back from a registered model description', () => {
    expect(championHistory('Lifecycle model.\n\nChampion history (newest first):\n- b\n- a')).toEqual(['b', 'a']);
    expect(championHistory(undefined)).toEqual([]);
  });
});
