import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { rolloutControl, runningPromotion } from '../cli/commands/rollout-control';
import type { CliContext } from '../cli/config';
import type { WorkflowProgress } from '../lib/lifecycle/progress';
import { badLive, healthyLive, quietLive } from '../tests/workflows/fake-live';
import { FakeWorld, fleetAgrees } from '../tests/workflows/fake-world';
import { FAST_ROLLOUT, suiteHarness, uid } from '../tests/workflows/harness';
import { maybeRecordHistory } from '../tests/workflows/test-env';

jest.setTimeout(60_000);

/**
 * The progressive path of the promotion saga, every branch, with fake
 * activities (the analysis fake runs the real decision logic on scripted
 * Prometheus numbers): continue, hold, extend to the maximum then roll back,
 * roll back on a failed criterion, approve, abort, pause, resume, cancel
 * mid-step; the first champion goes at once; --force keeps the analysis.
 */
describe('progressive rollout (workflow, fake activities)', () => {
  const h = suiteHarness();

  const worldWithChampion = () => FakeWorld.withChampion(uid('m'));
  const progressive = (extra: Record<string, unknown> = {}) => ({ extra: { rollout: { ...FAST_ROLLOUT, ...extra } } });
  const progressOf = (handle: WorkflowHandle) => handle.query<WorkflowProgress>('progress');
  const untouched = (world: FakeWorld) => {
    expect(world.aliases.champion).toBe('1');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.traffic).toBeNull();
    expect(world.lease).toBeNull();
  };

  it('goes shadow -> canary -> full rollout when every analysis passes, with the evidence on the version', async () => {
    const world = worldWithChampion();
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('progressive'), ...progressive() });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-progressive-promoted');
      return r;
    });
    expect(result).toMatchObject({ promoted: true, rollout: { outcome: 'passed', champion: '1' } });
    expect(result.rollout?.reason).toMatch(/^2 step\(s\) passed \(shadow 100% in \d+ s, canary 20% in \d+ s\)$/);
    expect(result.rolledBack).toBeUndefined();
    expect(world.trafficPlans.map((p) => [p.mode, p.share])).toEqual([['shadow', 1], ['canary', 0.2]]);
    expect(world.trafficPlans[0]!.maxDurationMs).toBe(3000);
    // The traffic is cleared before the full rollout, and the alias moves after it.
    expect(world.calls.lastIndexOf('clearTraffic')).toBeLessThan(world.calls.indexOf('deployModel'));
    expect(world.calls.indexOf('deployModel')).toBeLessThan(world.calls.indexOf('moveChampionAlias'));
    expect(world.aliases.champion).toBe('2');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.traffic).toBeNull();
    const evidence = JSON.parse(world.version('2')!.tags['lifecycle.rollout.evidence']!) as { outcome: string; steps: { decision: string; n: number; agreement: number }[] };
    expect(evidence.outcome).toBe('passed');
    expect(evidence.steps).toHaveLength(2);
    for (const s of evidence.steps) expect(s).toMatchObject({ decision: 'continue', n: 1000, agreement: 0.97 });
    // Every analysis compared the candidate with the champion of the moment, counting from the step's start.
    for (const a of world.analyses) expect(a).toMatchObject({ championVersion: '1', candidateVersion: '2' });
  });

  it('holds while samples are short and continues once they arrive', async () => {
    const world = worldWithChampion();
    world.live = (input, call) => (call <= 3 ? quietLive(input.championVersion, input.candidateVersion) : healthyLive(input.championVersion, input.candidateVersion));
    // A generous maximum: timers on a loaded dev server fire late, and this test is about holding, not the maximum.
    const steps = FAST_ROLLOUT.steps!.map((s) => ({ ...s, maxDuration: '30 seconds' }));
    const result = await h.run(world, async (tq) => (await h.startTrain(world, tq, progressive({ steps }))).result());
    expect(result.rollout).toMatchObject({ outcome: 'passed' });
    expect(result.promoted).toBe(true);
    expect(world.analyses.length).toBeGreaterThanOrEqual(5);
    expect(world.analyses.filter((a) => a.step.mode === 'shadow').length).toBeGreaterThanOrEqual(4);
    // Each analysis of a step counts its time from the step's start.
    const shadow = world.analyses.filter((a) => a.step.mode === 'shadow').map((a) => a.elapsedMs);
    expect(shadow).toEqual([...shadow].sort((a, b) => a - b));
  });

  it('extends a step up to its maximum duration, then rolls back for lack of evidence (not a failure)', async () => {
    const world = worldWithChampion();
    world.live = (input) => quietLive(input.championVersion, input.candidateVersion);
    const started = Date.now();
    const result = await h.run(world, async (tq) => (await h.startTrain(world, tq, progressive())).result());
    expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
    expect(result).toMatchObject({ promoted: false, rolledBack: true, rollout: { outcome: 'rolled-back' } });
    expect(result.rollout!.reason).toMatch(/step 1 \(shadow 100%\): not enough evidence after/);
    expect(world.trafficPlans).toHaveLength(1);
    expect(world.calls).not.toContain('deployModel');
    untouched(world);
    expect(world.version('2')!.tags['lifecycle.outcome']).toBe('rolled-back');
    expect(world.runs[0]?.status).toBe('FINISHED');
  });

  it('rolls back at once when a criterion fails: traffic cleared, version tagged, lease released, alias unmoved', async () => {
    const world = worldWithChampion();
    world.live = (input) => badLive(input.championVersion, input.candidateVersion);
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('rolled-back'), ...progressive() });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-progressive-rolled-back');
      return r;
    });
    expect(result.rolledBack).toBe(true);
    expect(result.rollout!.reason).toMatch(/agreement: 200\/1000 agree/);
    expect(result.rollout!.reason).toMatch(/class-distance/);
    expect(world.analyses).toHaveLength(1);
    untouched(world);
    const records = world.rolloutRecords.get('2')!;
    expect(records.at(-1)).toMatchObject({ outcome: 'rolled-back', steps: [{ step: 1, mode: 'shadow', decision: 'rollback', agreement: 0.2 }] });
    expect(world.version('2')!.tags['lifecycle.outcome']).toBe('rolled-back');
  });

  it('waits for approval after the last step when asked; approving earlier is refused with a clear message', async () => {
    const world = worldWithChampion();
    world.block('analyzeStep');
    const { refused, result } = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, progressive({ requireApproval: true }));
      await world.reach('analyzeStep');
      const early = await handle.executeUpdate('approve', { args: [{ by: 'alice' }] }).catch((e: unknown) => e);
      world.release('analyzeStep');
      await waitFor(async () => (await progressOf(handle)).rollout?.state === 'waiting-for-approval');
      expect(world.calls).not.toContain('deployModel');
      expect((await progressOf(handle)).step).toBe('waiting-for-approval');
      const answer = await handle.executeUpdate('approve', { args: [{ by: 'alice', reason: 'looks good' }] });
      expect(answer).toMatch(/^approve: accepted/);
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-progressive-approved');
      return { refused: early, result: r };
    });
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(messageOf(refused)).toMatch(/nothing to approve/);
    expect(result.promoted).toBe(true);
    expect(result.rollout?.reason).toMatch(/step\(s\) passed .*; approved by alice$/);
    expect(world.aliases.champion).toBe('2');
  });

  it('aborts on request: rolled back with who and why, alias unmoved', async () => {
    const world = worldWithChampion();
    world.live = (input) => quietLive(input.championVersion, input.candidateVersion);
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, progressive());
      await world.reach('analyzeStep');
      await handle.executeUpdate('abort', { args: [{ by: 'bob', reason: 'customer complaints' }] });
      return handle.result();
    });
    expect(result.rolledBack).toBe(true);
    expect(result.rollout!.reason).toBe('aborted by bob: customer complaints');
    untouched(world);
  });

  it('`lifecycle approve|abort` find the model\'s running promotion by search attribute and print the answer or the refusal', async () => {
    const world = worldWithChampion();
    world.live = (input) => quietLive(input.championVersion, input.candidateVersion);
    const ctx = { model: world.modelName, temporal: () => Promise.resolve(h.client) } as unknown as CliContext;
    const out = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const err = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const { codes, result, id } = await h.run(world, async (tq) => {
        const handle = await h.startTrain(world, tq, progressive());
        await world.reach('analyzeStep');
        await waitFor(async () => (await runningPromotion(h.client, world.modelName)) !== null); // visibility lags a little
        const refused = await rolloutControl(ctx, 'approve', {});
        const aborted = await rolloutControl(ctx, 'abort', { reason: 'from the CLI' });
        return { codes: [refused, aborted], result: await handle.result(), id: handle.workflowId };
      });
      expect(codes).toEqual([1, 0]);
      expect(err.mock.calls.flat().join('\n')).toMatch(new RegExp(`${id}: approve refused: nothing to approve`));
      expect(out.mock.calls.flat().join('\n')).toMatch(new RegExp(`${id}: abort: accepted`));
      expect(result.rollout!.reason).toMatch(/^aborted by .+: from the CLI$/);
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  it('pauses (no analyses, the step clock stops) and resumes; the validators refuse what makes no sense', async () => {
    const world = worldWithChampion();
    const out = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, progressive());
      const tooEarly = await handle.executeUpdate('resume', { args: [{}] }).catch((e: unknown) => e);
      await world.reach('setTraffic');
      await handle.executeUpdate('pause', { args: [{ by: 'carol' }] });
      const twice = await handle.executeUpdate('pause', { args: [{}] }).catch((e: unknown) => e);
      const before = world.analyses.length;
      await new Promise((r) => setTimeout(r, 1500));
      const during = world.analyses.length - before;
      const p = await progressOf(handle);
      await handle.executeUpdate('resume', { args: [{ by: 'carol' }] });
      return { tooEarly, twice, during, p, result: await handle.result() };
    });
    expect(messageOf(out.tooEarly)).toMatch(/not paused|no progressive rollout/);
    expect(messageOf(out.twice)).toMatch(/already paused/);
    expect(out.during).toBeLessThanOrEqual(1); // at most the analysis already under way when the pause landed
    expect(out.p.rollout).toMatchObject({ state: 'paused', lastAction: { action: 'pause', by: 'carol' } });
    expect(out.p.step).toBe('paused');
    expect(out.result.promoted).toBe(true);
    // The paused time (>= 1.5 s) does not count: the step's clock lags the wall clock since its traffic by at least that much.
    const shadow = world.analyses.filter((a) => a.step.mode === 'shadow');
    const last = shadow.at(-1)!;
    expect(last.elapsedMs).toBeLessThanOrEqual(last.calledAt - last.appliedAt - 1500 + 250);
  });

  it('refuses every update outside a progressive rollout (all at once)', async () => {
    const world = worldWithChampion();
    world.block('deployModel');
    const refusals = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq);
      await world.reach('deployModel');
      const answers = await Promise.all(['approve', 'abort', 'pause', 'resume'].map((u) => handle.executeUpdate(u, { args: [{}] }).catch((e: unknown) => e)));
      world.release('deployModel');
      await handle.result();
      return answers;
    });
    for (const r of refusals) expect(r).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(messageOf(refusals[0])).toMatch(/nothing to approve/);
    expect(messageOf(refusals[2])).toMatch(/no progressive rollout/);
  });

  it.each(['analyzeStep', 'timer'] as const)('a cancel mid-step (during %s) clears the traffic and releases the lease; the run is KILLED', async (where) => {
    const world = worldWithChampion();
    if (where === 'analyzeStep') world.block('analyzeStep');
    world.live = (input) => quietLive(input.championVersion, input.candidateVersion);
    const err = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, progressive());
      await world.reach(where === 'analyzeStep' ? 'analyzeStep' : 'setTraffic');
      await handle.cancel();
      return handle.result().catch((e: unknown) => e);
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    expect(world.calls).toContain('clearTraffic');
    untouched(world);
    expect(world.runs[0]).toMatchObject({ status: 'KILLED' });
  });

  it('puts the first champion on the fleet at once: nothing to compare with', async () => {
    const world = new FakeWorld(uid('m'));
    const result = await h.run(world, async (tq) => (await h.startTrain(world, tq, progressive())).result());
    expect(result.promoted).toBe(true);
    expect(world.calls).not.toContain('setTraffic');
    expect(world.calls).not.toContain('analyzeStep');
    expect(world.aliases.champion).toBe('1');
  });

  it('--force skips the offline gate, never the live analysis', async () => {
    const world = worldWithChampion(); // v1 0.5
    world.seedChampion(0.95); // v2 champion 0.95; v1 is worse and the gate rejects it
    world.live = (input) => badLive(input.championVersion, input.candidateVersion);
    const result = await h.run(world, async (tq) => (await h.startPromote(world, tq, { version: '1', force: true, rollout: FAST_ROLLOUT })).result());
    expect(result.decision).toMatchObject({ promote: false, forced: true });
    expect(result).toMatchObject({ promoted: false, rolledBack: true });
    expect(world.analyses).toHaveLength(1);
    expect(world.aliases.champion).toBe('2');
    expect(world.traffic).toBeNull();
  });

  it('shows the step, its traffic, time in step and the latest evidence in the progress query', async () => {
    const world = worldWithChampion();
    world.live = (input, call) => (call <= 2 ? quietLive(input.championVersion, input.candidateVersion) : healthyLive(input.championVersion, input.candidateVersion));
    const seen = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, progressive());
      await waitFor(async () => (await progressOf(handle)).rollout?.latest !== undefined);
      const p = await progressOf(handle);
      await handle.result();
      return p;
    });
    expect(seen.rollout).toMatchObject({ strategy: 'progressive', championVersion: '1', stepIndex: 0, steps: [{ mode: 'shadow', share: 1 }, { mode: 'canary', share: 0.2 }] });
    expect(seen.rollout!.latest).toMatchObject({ decision: 'hold' });
    expect(seen.rollout!.latest!.criteria.find((c) => c.name === 'samples')).toMatchObject({ verdict: 'short', samples: 10, minSamples: 100 });
    expect(seen.rollout!.timeInStepMs).toBeGreaterThan(0);
    expect(seen.step).toBe('shadow');
  });
});

function messageOf(err: unknown): string {
  const e = err as { message?: string; cause?: { message?: string } };
  return `${e?.message ?? ''} ${e?.cause?.message ?? ''}`;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
