import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import type { ResolvedDataset } from '../lib/lifecycle/types';
import { dataTriggerWorkflowId } from '../lib/lifecycle/ids';
import { FakeWorld, SPLIT_A, fleetAgrees } from '../tests/workflows/fake-world';
import { Harness, uid } from '../tests/workflows/harness';
import { maybeRecordHistory } from '../tests/workflows/test-env';
import type { monitorModel } from './monitor-model';
import type { curateDataset } from './curate-dataset';

// Each test runs real workflow executions on a local dev server: seconds, not jest's 5 s default.
jest.setTimeout(60_000);

/** promoteVersion (CLI promote/rollback), checkDatasetUpdates (the data trigger) and monitorModel (the drift check) with fake activities. */
describe('promoteVersion, checkDatasetUpdates and monitorModel (workflows, fake activities)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  }, 120_000);
  afterAll(() => h?.stop());

  /** v1 champion (0.8) and a registered, not promoted v2 with `metric`. */
  const worldWithCandidate = (metric: number) => {
    const world = new FakeWorld(uid('m'));
    world.seedChampion(0.8);
    world.versions.push({ version: '2', runId: 'r2', metric, split: SPLIT_A, digest: 'x', tags: {} });
    return world;
  };
  const promote = (world: FakeWorld, tq: string, extra: Record<string, unknown>) => h.startPromote(world, tq, extra);

  it('promotes a registered version that beats the champion through the same saga', async () => {
    const world = worldWithCandidate(0.9);
    const result = await h.run(world, async (tq) => {
      const handle = await promote(world, tq, { version: '2' });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'promote-version-promoted');
      return r;
    });
    expect(result).toMatchObject({ promoted: true, previousChampion: '1', decision: { promote: true, champion: 0.8, splitDigest: SPLIT_A } });
    expect(world.aliases.champion).toBe('2');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.calls).toEqual(expect.arrayContaining(['acquireRolloutLease', 'deployModel', 'moveChampionAlias', 'finalizeRollout']));
  });

  it('does not promote a version the gate rejects, unless forced', async () => {
    const world = worldWithCandidate(0.7);
    const refused = await h.run(world, async (tq) => (await promote(world, tq, { version: '2' })).result());
    expect(refused).toMatchObject({ promoted: false, decision: { promote: false } });
    expect(world.aliases.champion).toBe('1');
    expect(world.version('2')?.tags['lifecycle.gate.decision']).toBe('reject');

    const forced = await h.run(world, async (tq) => (await promote(world, tq, { version: '2', force: true })).result());
    expect(forced).toMatchObject({ promoted: true, decision: { promote: false, forced: true } });
    expect(world.aliases.champion).toBe('2');
    expect(world.version('2')?.tags['lifecycle.gate.decision']).toBe('forced');
  });

  it('rolls back to the version the champion replaced, recording the evidence', async () => {
    const world = worldWithCandidate(0.9);
    await h.run(world, async (tq) => (await promote(world, tq, { version: '2' })).result());
    const result = await h.run(world, async (tq) => {
      const handle = await promote(world, tq, { rollback: true });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'promote-version-rollback');
      return r;
    });
    expect(result).toMatchObject({ promoted: true, model: { version: '1' }, previousChampion: '2', decision: { promote: false, forced: true, championVersion: '2' } });
    expect(world.aliases.champion).toBe('1');
    expect(fleetAgrees(world)).toBe(true);
  });

  it('refuses an unknown version without retrying', async () => {
    const world = worldWithCandidate(0.9);
    const err = await h.run(world, async (tq) => (await promote(world, tq, { version: '9' })).result().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(((err as WorkflowFailedError).cause?.cause as ApplicationFailure).type).toBe('VERSION_NOT_FOUND');
    expect(world.calls.filter((c) => c === 'getVersionInfo')).toHaveLength(1);
  });

  const dataset = (digest: string): ResolvedDataset => ({ repo: '/repo', path: 'data/x', rev: 'HEAD', commit: 'c'.repeat(40), digest, nfiles: 1, sizeBytes: 1, source: 's', name: 'x' });
  const check = (world: FakeWorld, tq: string) => h.check(world, tq, ['data/x']);

  it('starts trainAndPromote once for a new dataset digest, however often and concurrently the check runs', async () => {
    const world = new FakeWorld(uid('m'));
    const digest = 'e'.repeat(32);
    world.datasetChecks = [{ dataset: dataset(digest), complete: true, alreadyTrained: false }];
    const results = await h.run(world, async (tq) => {
      const racing = await Promise.all([check(world, tq), check(world, tq)]);
      const again = await check(world, tq);
      await h.client.workflow.getHandle(dataTriggerWorkflowId(world.modelName, digest)).result();
      return [...racing, again];
    });
    expect(results.flatMap((r) => r.started)).toEqual([{ workflowId: dataTriggerWorkflowId(world.modelName, digest), digest, path: 'data/x' }]);
    expect(results.flatMap((r) => r.skipped).map((s) => s.reason)).toEqual([expect.stringMatching(/already started/), expect.stringMatching(/already started/)]);
    expect(world.runs).toHaveLength(1);
    expect(world.aliases.champion).toBe('1');
  });

  it('skips a digest the registry already has and a revision whose data is not pushed yet', async () => {
    const world = new FakeWorld(uid('m'));
    world.datasetChecks = [
      { dataset: dataset('1'.repeat(32)), complete: true, alreadyTrained: true },
      { dataset: dataset('2'.repeat(32)), complete: false, alreadyTrained: false },
    ];
    const result = await h.run(world, (tq) => check(world, tq));
    expect(result.started).toEqual([]);
    expect(result.skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/already has a version/), expect.stringMatching(/dvc push pending/)]);
  });

  describe('monitorModel', () => {
    const monitor = (world: FakeWorld, tq: string, input: Record<string, unknown> = {}) =>
      h.client.workflow.execute<typeof monitorModel>('monitorModel', { taskQueue: tq, workflowId: uid('monitor'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq, ...input }] });

    it("checks the champion's window, ending at the workflow's start, with the default settings", async () => {
      const world = new FakeWorld(uid('m'));
      world.seedChampion(0.8);
      world.drifted = true;
      const before = Date.now();
      const result = await h.run(world, async (tq) => {
        const handle = await h.client.workflow.start<typeof monitorModel>('monitorModel', { taskQueue: tq, workflowId: uid('monitor'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq }] });
        const r = await handle.result();
        await maybeRecordHistory(handle, 'monitor-model-drift');
        return r;
      });
      expect(result).toMatchObject({ modelName: world.modelName, version: '1', status: 'ok', drift: true });
      expect(world.driftChecks).toHaveLength(1);
      const check = world.driftChecks[0]!;
      expect(check).toMatchObject({ modelName: world.modelName, version: '1', settings: { windowMinutes: 60, threshold: 0.1, alpha: 0.05, driftShare: 0.5, minRows: 200 } });
      expect(check.untilMs).toBeGreaterThanOrEqual(before - 1000);
      expect(check.untilMs).toBeLessThanOrEqual(Date.now());
    });

    it('checks a given version with given settings, and reports a model without a champion without checking', async () => {
      const world = new FakeWorld(uid('m'));
      const none = await h.run(world, (tq) => monitor(world, tq));
      expect(none).toEqual({ modelName: world.modelName, version: null, status: 'no_champion' });
      expect(world.calls).toEqual(['championVersion']);
      const given = await h.run(world, (tq) => monitor(world, tq, { version: '7', drift: { windowMinutes: 5, minRows: 50 } }));
      expect(given).toMatchObject({ version: '7', drift: false });
      expect(world.driftChecks[0]!.settings).toMatchObject({ windowMinutes: 5, minRows: 50, threshold: 0.1 });
      expect(world.calls).toEqual(['championVersion', 'measureDrift']); // the given version: no champion lookup
    });

    it('fails at once, naming the field, on bad input', async () => {
      const world = new FakeWorld(uid('m'));
      const err = await h.run(world, (tq) => monitor(world, tq, { drift: { alpha: 2 } })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect(((err as WorkflowFailedError).cause as ApplicationFailure).message).toMatch(/drift\.alpha/);
      expect(world.calls).toEqual([]);
    });
  });

  describe('curation (curateDataset, and the monitor policy that starts it)', () => {
    const POLICY = { minLabels: 50, cooldown: '1 hour' };

    it('a drifted check with enough new labels starts one curation per champion version; it publishes and runs the data trigger on the new revision', async () => {
      const world = new FakeWorld(uid('m'));
      world.seedChampion(0.8);
      world.drifted = true;
      world.newLabels = 120;
      const run = (tq: string) =>
        h.client.workflow.execute<typeof monitorModel>('monitorModel', { taskQueue: tq, workflowId: uid('monitor'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq, curate: POLICY }] });
      const [first, second] = await h.run(world, async (tq) => {
        const a = await run(tq);
        const b = await run(tq);
        // The curation outlives the monitor run that started it: wait for it and its data check.
        await h.client.workflow.getHandle(`curate-${world.modelName}-v1`).result();
        return [a, b];
      });
      expect(first).toMatchObject({ drift: true, curation: { started: `curate-${world.modelName}-v1`, condition: 'drift' } });
      expect(second).toMatchObject({ drift: true });
      expect((second as { curation?: { skipped?: string } }).curation?.skipped).toMatch(/already started/);
      expect(world.curations).toHaveLength(1);
      expect(world.curations[0]).toMatchObject({ modelName: world.modelName, minLabels: 50, holdOutShare: 0.2, cooldownMs: 3_600_000, force: false });
      expect(world.inspected).toEqual([expect.objectContaining({ modelName: world.modelName, paths: [`data/${world.modelName}-curated`], rev: 'lifecycle-curated/x', repo: '/repo' })]);
    });

    it('starts no curation without drift, or with too few labels, and says why', async () => {
      const world = new FakeWorld(uid('m'));
      world.seedChampion(0.8);
      world.newLabels = 10;
      const run = (tq: string) =>
        h.client.workflow.execute<typeof monitorModel>('monitorModel', { taskQueue: tq, workflowId: uid('monitor'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq, curate: POLICY }] });
      const calm = await h.run(world, run);
      expect(calm).toMatchObject({ drift: false });
      expect(calm).not.toHaveProperty('curation');
      world.drifted = true;
      const few = await h.run(world, run);
      expect(few).toMatchObject({ drift: true, curation: { skipped: 'drift, but 10 new labelled payload(s), fewer than 50' } });
      expect(world.calls).not.toContain('curateDataset');
    });

    it('also curates when live accuracy has dropped below the floor on enough labels, without drift', async () => {
      const world = new FakeWorld(uid('m'));
      world.seedChampion(0.8);
      world.newLabels = 400;
      const run = (tq: string) =>
        h.client.workflow.execute<typeof monitorModel>('monitorModel', { taskQueue: tq, workflowId: uid('monitor'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq, curate: POLICY }] });
      world.liveAccuracy = { accuracy: 0.55, samples: 50 }; // too few labels behind it
      expect(await h.run(world, run)).not.toHaveProperty('curation');
      world.liveAccuracy = { accuracy: 0.55, samples: 300 };
      const low = await h.run(world, async (tq) => {
        const r = await run(tq);
        await h.client.workflow.getHandle(`curate-${world.modelName}-v1`).result();
        return r;
      });
      expect(low).toMatchObject({ drift: false, curation: { started: `curate-${world.modelName}-v1`, condition: 'live accuracy 55.0% < 70% on 300 labels' } });
      expect(world.curations).toHaveLength(1);
    });

    it('a curation that builds nothing (cooldown, too few labels) starts no training', async () => {
      const world = new FakeWorld(uid('m'));
      world.curationResult = (input) => ({ status: 'cooldown', modelName: input.modelName, labels: 300, reason: 'the last curation was 5 min ago' });
      const result = await h.run(world, (tq) =>
        h.client.workflow.execute<typeof curateDataset>('curateDataset', { taskQueue: tq, workflowId: uid('curate'), args: [{ modelName: world.modelName, monitoringTaskQueue: tq, force: true }] }),
      );
      expect(result).toMatchObject({ status: 'cooldown' });
      expect(world.curations[0]).toMatchObject({ force: true, minLabels: 100 });
      expect(world.calls).not.toContain('inspectDatasets');
    });
  });
});
