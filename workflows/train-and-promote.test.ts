import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { WorkflowProgress } from '../lib/lifecycle/progress';
import { FakeWorld, SPLIT_A, SPLIT_B, fleetAgrees } from '../tests/workflows/fake-world';
import { Harness, uid } from '../tests/workflows/harness';
import { maybeRecordHistory } from '../tests/workflows/test-env';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA } from '../lib/lifecycle/search-attributes';

// Each test runs real workflow executions on a local dev server: seconds, not jest's 5 s default.
jest.setTimeout(60_000);

/** trainAndPromote against a real Temporal dev server, every activity a fake over an in-memory registry and fleet. */
describe('trainAndPromote (workflow, fake activities)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start();
  }, 120_000);
  afterAll(() => h?.stop());

  it('promotes the first model: fleet and champion on it, run FINISHED, lease released', async () => {
    const world = new FakeWorld(uid('m'));
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('promote') });
      const r = await handle.result();
      expect((await handle.query<WorkflowProgress>('progress')).stages.map((s) => s.state)).toEqual(['done', 'done', 'done', 'done', 'done', 'done', 'done']);
      await maybeRecordHistory(handle, 'train-and-promote-first-champion');
      return r;
    });
    expect(result).toMatchObject({ promoted: true, model: { version: '1' }, decision: { promote: true, reason: 'no champion yet' } });
    expect(world.aliases.champion).toBe('1');
    expect(fleetAgrees(world)).toBe(true);
    expect(world.fleet.get('w1')).toBe('1');
    expect(world.runs[0]?.status).toBe('FINISHED');
    expect(world.lease).toBeNull();
  });

  it('rejects a candidate no better than the champion: nothing deployed, alias and fleet unchanged', async () => {
    const world = new FakeWorld(uid('m'));
    const champion = world.seedChampion(0.95);
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('reject') });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-rejected');
      return r;
    });
    expect(result).toMatchObject({ promoted: false, decision: { promote: false, champion: 0.95, championVersion: champion, splitDigest: SPLIT_A, championSource: 'recorded' } });
    expect(world.calls).not.toContain('deployModel');
    expect(world.calls).not.toContain('acquireRolloutLease');
    expect(world.aliases.champion).toBe(champion);
    expect(fleetAgrees(world)).toBe(true);
    expect(world.version(result.model.version)?.tags['lifecycle.outcome']).toBe('rejected');
    expect(world.runs[0]?.status).toBe('FINISHED');
  });

  it('tells its story to the Temporal UI: search attributes, current details and a summary per activity', async () => {
    const world = new FakeWorld(uid('m'));
    const champion = world.seedChampion(0.95);
    const { attrs, details, summaries } = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('story') });
      await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-story-rejected');
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      const events = (await handle.fetchHistory()).events ?? [];
      const decode = (p: { data?: Uint8Array | null } | null | undefined) => (p?.data ? (JSON.parse(Buffer.from(p.data).toString()) as string) : undefined);
      return {
        attrs: (await handle.describe()).typedSearchAttributes,
        details: metadata.currentDetails,
        summaries: events.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => decode(e.userMetadata?.summary)),
      };
    });
    const story = `train ${world.modelName} on x@ccccccc -> v2, rejected: test_accuracy 0.9000 vs champion v${champion} 0.9500 on split ${SPLIT_A.slice(0, 6)}`;
    expect(details).toBe(story);
    expect(attrs.get(SA.model)).toBe(world.modelName);
    expect(attrs.get(SA.version)).toBe(2);
    expect(attrs.get(SA.outcome)).toBe('rejected');
    expect(attrs.get(SA.summary)).toBe(story);
    expect(attrs.get(SA.datasetDigest)).toEqual(expect.any(String));
    expect(summaries).toEqual(expect.arrayContaining([`read the champion of ${world.modelName}`, `record the gate on ${world.modelName} v2: reject`]));
    expect(summaries.every((x) => typeof x === 'string' && x.length > 0)).toBe(true);
  });

  it('measures the champion on the candidate split when its recorded metric comes from another split', async () => {
    const world = new FakeWorld(uid('m'));
    const champion = world.seedChampion(0.99, SPLIT_B); // a great number, but on other images
    world.trainedSplit = SPLIT_A;
    world.trainedMetric = 0.95; // worse than the recorded 0.99, better than the champion on the same images
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('reeval') });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-reevaluated');
      return r;
    });
    expect(world.evaluations).toEqual([{ version: champion, split: SPLIT_A }]);
    // The fake evaluation measures the champion at 0.99 - 0.05 on split A.
    expect(result.decision).toMatchObject({ promote: true, candidate: 0.95, championSource: 'evaluated', splitDigest: SPLIT_A });
    expect(result.decision.champion).toBeCloseTo(0.94, 10);
    expect(world.version(result.model.version)?.tags['lifecycle.gate.split_digest']).toBe(SPLIT_A);
  });

  it('retries a failed training attempt with the checkpoint of its last heartbeat and registers one version', async () => {
    const world = new FakeWorld(uid('m'));
    world.fail('trainModel', () => new Error('training worker lost'), 1);
    const result = await h.run(world, async (tq) => {
      const handle = await h.startTrain(world, tq, { id: uid('retry') });
      const r = await handle.result();
      await maybeRecordHistory(handle, 'train-and-promote-training-retried');
      return r;
    });
    expect(world.trainingResumes).toEqual([null, 1]);
    expect(world.versions).toHaveLength(1);
    expect(world.runs).toHaveLength(1);
    expect(result.promoted).toBe(true);
  });

  it('fails at once on bad input, naming the field', async () => {
    const world = new FakeWorld(uid('m'));
    const err = await h.run(world, async (tq) => (await h.startTrain(world, tq, { extra: { param: { epochs: 2 } } })).result().catch((e: unknown) => e));
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause.nonRetryable).toBe(true);
    expect(cause.message).toMatch(/Unrecognized key: "param"/);
    expect(world.calls).toEqual([]);
  });

  it('runs under the user name train-and-promote', async () => {
    const world = new FakeWorld(uid('m'));
    const result = await h.run(world, async (tq) => (await h.startTrain(world, tq, { type: 'train-and-promote' })).result());
    expect(result.promoted).toBe(true);
  });

  it('gives a new execution of the same workflow id its own run and version', async () => {
    const world = new FakeWorld(uid('m'));
    const workflowId = uid('same-id');
    await h.run(world, async (tq) => {
      await (await h.startTrain(world, tq, { id: workflowId, extra: { params: { epochs: 2 } } })).result();
      world.trainedMetric = 0.95;
      await (await h.startTrain(world, tq, { id: workflowId, extra: { params: { epochs: 1 } } })).result();
    });
    expect(world.runs.map((r) => r.workflowId)).toEqual([workflowId, workflowId]);
    expect(new Set(world.runs.map((r) => r.executionId)).size).toBe(2);
    expect(world.versions.map((v) => v.version)).toEqual(['1', '2']);
    expect(world.aliases.champion).toBe('2');
  });

  it('turns a non-retryable activity failure into a FAILED run with the reason', async () => {
    const world = new FakeWorld(uid('m'));
    world.fail('trainModel', () => ApplicationFailure.nonRetryable('unknown param(s) epoch', 'TRAINER_BAD_INPUT'));
    await h.run(world, async (tq) => (await h.startTrain(world, tq)).result().catch(() => undefined));
    expect(world.runs[0]).toMatchObject({ status: 'FAILED', reason: 'unknown param(s) epoch' });
    expect(world.versions).toHaveLength(0);
  });
});
