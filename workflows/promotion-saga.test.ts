import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { TrainAndPromoteResult } from '../lib/lifecycle/types';
import { FakeWorld, fleetAgrees, type ActivityName } from '../tests/workflows/fake-world';
import { suiteHarness, uid } from '../tests/workflows/harness';
import { maybeRecordHistory } from '../tests/workflows/test-env';

// Each test runs real workflow executions on a local dev server: seconds, not jest's 5 s default.
jest.setTimeout(60_000);

/**
 * The promotion saga's failure branches: a rollout or an alias move that
 * fails is compensated (fleet back on the registry's champion, lease
 * released, run FAILED), a cancellation at any step leaves the run KILLED and
 * the alias and fleet where they were, and two promotions never interleave.
 */
describe('promotion saga (workflow, fake activities)', () => {
  const h = suiteHarness();

  const worldWithChampion = () => FakeWorld.withChampion(uid('m'));

  const expectUntouched = (world: FakeWorld) => {
    expect(world.aliases.champion).toBe('1');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.lease).toBeNull();
  };

  it('rolls the fleet back and keeps the alias when the deploy fails for good', async () => {
    const world = worldWithChampion();
    world.fail('deployModel', () => ApplicationFailure.nonRetryable('worker w2 failed the golden check', 'GOLDEN_CHECK_FAILED'));
    const err = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('deploy-fail') });
      const e = await handle.result().catch((x: unknown) => x);
      await maybeRecordHistory(handle, 'train-and-promote-deploy-failed');
      return e;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(world.calls).toContain('restoreFleet');
    expectUntouched(world);
    expect(world.runs[0]).toMatchObject({ status: 'FAILED', reason: 'worker w2 failed the golden check' });
    expect(world.version('2')?.tags['lifecycle.outcome']).toBe('failed');
    expect(world.aliases.challenger).toBeUndefined();
  });

  it('rolls the fleet back to the champion when the alias move never succeeds', async () => {
    const world = worldWithChampion();
    world.fail('moveChampionAlias', () => new Error('MLflow unreachable'));
    const err = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('alias-fail') });
      const e = await handle.result().catch((x: unknown) => x);
      await maybeRecordHistory(handle, 'train-and-promote-alias-failed');
      return e;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(world.calls.filter((c) => c === 'moveChampionAlias').length).toBeGreaterThan(1); // retried, not given up at once
    expect(world.calls.indexOf('restoreFleet')).toBeGreaterThan(world.calls.lastIndexOf('moveChampionAlias'));
    expectUntouched(world);
    expect(world.runs[0]?.status).toBe('FAILED');
  });

  it('waits out a short registry outage at the alias move and completes the promotion', async () => {
    const world = worldWithChampion();
    world.fail('moveChampionAlias', () => new Error('MLflow unreachable'), 2);
    const result = await h.run(world, async (tq) => (await h.startTrain(world, tq)).result());
    expect(result.promoted).toBe(true);
    expect(world.aliases.champion).toBe('2');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.calls).not.toContain('restoreFleet');
  });

  const steps: ActivityName[] = ['resolveDataset', 'startRun', 'trainModel', 'registerModel', 'getChampion', 'acquireRolloutLease', 'deployModel', 'moveChampionAlias'];
  it.each(steps)('a cancel during %s leaves the run KILLED, alias and fleet unchanged, no live candidate', async (step) => {
    const world = worldWithChampion();
    world.block(step);
    const err = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid(`cancel-${step}`) });
      await world.reach(step);
      await handle.cancel();
      const e = await handle.result().catch((x: unknown) => x);
      if (step === 'deployModel') await maybeRecordHistory(handle, 'train-and-promote-cancelled-during-deploy');
      return e;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expectUntouched(world);
    if (step === 'resolveDataset') expect(world.runs).toEqual([]);
    else expect(world.runs[0]).toMatchObject({ status: 'KILLED', reason: 'workflow cancelled' });
    const candidates = world.versions.filter((x) => x.version !== '1');
    if (steps.indexOf(step) >= steps.indexOf('registerModel')) expect(candidates).toHaveLength(1);
    for (const v of candidates) expect(v.tags['lifecycle.outcome']).toBe('cancelled');
    expect(world.aliases.challenger).toBeUndefined();
  });

  it('never deploys two versions of a model at once; the second promotion re-gates against the new champion', async () => {
    const world = worldWithChampion();
    world.block('deployModel');
    const [first, second] = await h.run(world, async (tq) => {
      const a = await h.startTrain(world, tq, { id: uid('first') });
      await world.reach('deployModel');
      // The second candidate is better than v1 but not than the first candidate (0.9 vs 0.9).
      const b = await h.startTrain(world, tq, { id: uid('second') });
      await waitFor(() => world.calls.filter((c) => c === 'acquireRolloutLease').length === 2);
      world.release('deployModel');
      const results: [TrainAndPromoteResult, TrainAndPromoteResult] = [await a.result(), await b.result()];
      await maybeRecordHistory(b, 'train-and-promote-regated-after-lease');
      return results;
    });
    expect(world.maxDeploysInFlight).toBe(1);
    expect(first.promoted).toBe(true);
    expect(second.promoted).toBe(false);
    expect(second.decision).toMatchObject({ promote: false, championVersion: first.model.version });
    expect(world.aliases.champion).toBe(first.model.version);
    expect(fleetAgrees(world)).toBe(true);
    expect(world.lease).toBeNull();
  });
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
