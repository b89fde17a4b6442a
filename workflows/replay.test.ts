import { Worker } from '@temporalio/worker';
import { bundleWorkflows, loadRecordedHistories, quietRuntime } from '../tests/workflows/test-env';

// Bundling the workflows takes a few seconds on a busy machine.
jest.setTimeout(120_000);

/**
 * Determinism guard: histories of real executions (tests/fixtures/histories/,
 * see README "Adding a replay history") are replayed with the current workflow
 * code. A change that would break executions already running (a new activity
 * call, a reordered step without `patched()`) fails here, not in production.
 */
describe('workflow replay compatibility', () => {
  const histories = loadRecordedHistories();

  it('has recorded histories to replay', () => {
    expect(histories.length).toBeGreaterThan(0);
  });

  it('replays every recorded history without a nondeterminism error', async () => {
    quietRuntime();
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await bundleWorkflows() }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
