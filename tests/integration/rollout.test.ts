import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRolloutActivities } from '../../activities/rollout';
import { readActiveModel } from '../../lib/fleet/active-models';
import { RolloutLeases } from '../../lib/fleet/lease';
import type { ModelRef, WorkerStatus } from '../../lib/fleet/protocol';
import { RolloutError, rolloutFleet, type RolloutDeps } from '../../lib/fleet/rollout';
import type { RegisteredVersion } from '../../lib/lifecycle/types';
import { MlflowClient, modelRefOf } from '../../lib/mlflow/client';
import { createOrtSession, type CreateSession } from '../../lib/model/model-runner';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, uniqueId } from './support/env';

/**
 * The fleet side of the promotion saga against a real MLflow registry
 * (versions with proxied ONNX artifacts), real Redis and two in-process
 * onnxruntime inference workers: one worker at a time, rollback on failure,
 * one rollout per model, compensation to the champion, convergence afterwards.
 */
describe('rollout: one worker at a time, rolled back on failure, one at a time per model', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('rollout');
  let dir: string;
  let stack: ServingStack;
  let models: TestModel[];
  let v1: RegisteredVersion;
  let statuses: WorkerStatus[][];
  let watcher: NodeJS.Timeout | undefined;
  const activities = () => createRolloutActivities({ mlflow, redis: stack.redis, redisPrefix: stack.prefix, deployTimeoutMs: 30_000, leaseTtlMs: 10_000 });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment().run<A, R, typeof fn>(fn, ...args);
  const refOf = async (v: RegisteredVersion): Promise<ModelRef> => modelRefOf(await mlflow.getModelVersion(v.name, v.version));
  const served = async (id: string) => (await stack.workerStatus(id))?.models[modelName]?.version;
  const fleetDeps = (): RolloutDeps => ({ redis: stack.redis, prefix: stack.prefix, leases: new RolloutLeases(stack.redis, stack.prefix), leaseTtlMs: 10_000, heartbeat: () => undefined, pollIntervalMs: 50 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-'));
    models = [1, 2, 3].map((seed) => makeTestModel(dir, { seed }));
    stack = new ServingStack();
    v1 = await registerTestModel(mlflow, modelName, models[0]!, 'champion');
    // w2 cannot load the third model (say, a node without the memory for it); w1 can.
    const failOnThird: CreateSession = (onnx, opts) => (Buffer.from(onnx).equals(models[2]!.bytes) ? Promise.reject(new Error('out of memory')) : createOrtSession(onnx, opts));
    for (const extra of [{}, { createSession: failOnThird }]) {
      const worker = await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, RECONCILE_INTERVAL_MS: '300' }, { registry: mlflow, ...extra });
      await worker.ready();
    }
    // Both started on the registry's champion and rebuilt the fleet's active entry from it.
    expect([await served('w1'), await served('w2')]).toEqual([v1.version, v1.version]);
    // The fleet controller (in the workers) writes it on its next tick.
    await stack.waitFor(async () => (await readActiveModel(stack.redis, stack.prefix, modelName))?.version === v1.version, 10_000, 'the fleet active version to be v1');
  });

  beforeEach(() => {
    statuses = [];
    watcher = setInterval(() => {
      void Promise.all(['w1', 'w2'].map((id) => stack.workerStatus(id))).then((s) => statuses.push(s.filter((x): x is WorkerStatus => x !== null)));
    }, 20);
  });
  afterEach(() => clearInterval(watcher));
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves every worker to the new version, never two loading at once; it becomes active only when finalized', async () => {
    const v2 = await registerTestModel(mlflow, modelName, models[1]!);
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd2' });
    const result = await run(a.deployModel, { model: v2, deploymentId: 'd2' });
    expect(result.workers).toEqual(['w1', 'w2']);
    expect([await served('w1'), await served('w2')]).toEqual([v2.version, v2.version]);
    expect((await readActiveModel(stack.redis, stack.prefix, modelName))?.version).toBe(v1.version); // the alias has not moved yet
    const loadingAtOnce = statuses.map((s) => s.filter((w) => w.models[modelName]?.state === 'loading').length);
    expect(Math.max(0, ...loadingAtOnce)).toBeLessThanOrEqual(1);
    const version = (s: WorkerStatus[], id: string) => s.find((w) => w.workerId === id)?.models[modelName]?.version;
    expect(statuses.some((s) => version(s, 'w1') === v2.version && version(s, 'w2') !== v2.version)).toBe(true);

    await mlflow.setAlias(modelName, 'champion', v2.version);
    await run(a.finalizeRollout, { model: v2, deploymentId: 'd2' });
    await run(a.releaseRolloutLease, { modelName, deploymentId: 'd2' });
    expect((await readActiveModel(stack.redis, stack.prefix, modelName))?.version).toBe(v2.version);
  });

  it('rolls the moved workers back and fails non-retryably when a later worker refuses the version', async () => {
    const before = await readActiveModel(stack.redis, stack.prefix, modelName);
    const v3 = await registerTestModel(mlflow, modelName, models[2]!);
    await run(activities().acquireRolloutLease, { modelName, deploymentId: 'd3' });
    // w2 cannot create a session for the file (MODEL_INVALID): a retry of the same rollout cannot help.
    const failure = await run(activities().deployModel, { model: v3, deploymentId: 'd3' }).catch((err: unknown) => err);
    await run(activities().releaseRolloutLease, { modelName, deploymentId: 'd3' });
    expect(failure).toMatchObject({ type: 'WORKER_REFUSED_MODEL', nonRetryable: true });
    expect(statuses.some((s) => s.find((w) => w.workerId === 'w1')?.models[modelName]?.version === v3.version)).toBe(true); // w1 had moved
    expect([await served('w1'), await served('w2')]).toEqual([before?.version, before?.version]);
    expect((await readActiveModel(stack.redis, stack.prefix, modelName))?.version).toBe(before?.version);
  });

  it('refuses a version whose file does not match the registered sha256 before touching the fleet', async () => {
    const bad = await registerTestModel(mlflow, modelName, models[0]!);
    await mlflow.setModelVersionTag(modelName, bad.version, 'lifecycle.sha256', '0'.repeat(64));
    const failure = await run(activities().deployModel, { model: bad, deploymentId: 'd4' }).catch((err: unknown) => err);
    expect(failure).toMatchObject({ type: 'MODEL_CHECKSUM_MISMATCH', nonRetryable: true });
    expect(statuses.every((s) => s.every((w) => w.models[modelName]?.state === 'ready'))).toBe(true);
  });

  it('lets one rollout of a model run at a time: a second deployment waits for the lease', async () => {
    const leases = new RolloutLeases(stack.redis, stack.prefix);
    expect((await leases.acquire(modelName, 'first', 'first rollout', 5000)).held).toBe(true);
    const v5 = await registerTestModel(mlflow, modelName, models[0]!);
    await expect(rolloutFleet(await refOf(v5), 'second', { timeoutMs: 5000 }, fleetDeps())).rejects.toMatchObject({ code: 'LEASE_NOT_HELD' });
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const acquire = activities().acquireRolloutLease;
    const waiting = env.run<Parameters<typeof acquire>, Awaited<ReturnType<typeof acquire>>, typeof acquire>(acquire, { modelName, deploymentId: 'second' });
    await stack.waitFor(() => beats.length > 0, 5000, 'the waiting activity to heartbeat');
    expect(beats[0]).toMatchObject({ phase: 'waiting-for-lease', heldBy: 'first' });
    await leases.release(modelName, 'first');
    expect((await waiting).waitedMs).toBeGreaterThan(0);
    await leases.release(modelName, 'second');
  });

  it('compensates by moving the fleet back to the champion, and workers converge to the active version on their own', async () => {
    const champion = (await mlflow.getModelVersionByAlias(modelName, 'champion'))!.version;
    const v6 = await registerTestModel(mlflow, modelName, models[0]!);
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd6' });
    await run(a.deployModel, { model: v6, deploymentId: 'd6' });
    // Say the alias move failed for good: the saga compensates.
    const restored = await run(a.restoreFleet, { modelName, deploymentId: 'd6' });
    expect(restored).toMatchObject({ version: champion, failed: [] });
    expect([await served('w1'), await served('w2')]).toEqual([champion, champion]);
    await run(a.releaseRolloutLease, { modelName, deploymentId: 'd6' });

    // A worker moved without a rollout (no lease) returns to the fleet's active version by itself.
    await stack.redis.publish(stack.keys.commands, JSON.stringify({ type: 'deploy', deploymentId: 'stray', model: await refOf(v6), workerId: 'w1' }));
    await stack.waitFor(async () => (await served('w1')) === v6.version, 10_000, 'w1 on the stray version');
    await stack.waitFor(async () => (await served('w1')) === champion, 10_000, 'w1 back on the active version');
  });

  it('a worker that starts during a rollout serves the champion, and finalize moves it too', async () => {
    const champion = (await mlflow.getModelVersionByAlias(modelName, 'champion'))!.version;
    const v7 = await registerTestModel(mlflow, modelName, models[1]!);
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd7' });
    await run(a.deployModel, { model: v7, deploymentId: 'd7' });
    const late = await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, WORKER_ID: 'w3' }, { registry: mlflow });
    await late.ready();
    expect(await served('w3')).toBe(champion); // what the registry calls champion at this moment
    await mlflow.setAlias(modelName, 'champion', v7.version);
    const { stragglers } = await run(a.finalizeRollout, { model: v7, deploymentId: 'd7' });
    expect(stragglers).toEqual(['w3']);
    await run(a.releaseRolloutLease, { modelName, deploymentId: 'd7' });
    expect([await served('w1'), await served('w2'), await served('w3')]).toEqual([v7.version, v7.version, v7.version]);
  });

  it('reports a cancelled rollout as cancelled after rolling the moved workers back', async () => {
    const before = await readActiveModel(stack.redis, stack.prefix, modelName);
    const v8 = await registerTestModel(mlflow, modelName, models[0]!);
    const deps = fleetDeps();
    const abort = new AbortController();
    await deps.leases.acquire(modelName, 'd8', 'cancel test', 10_000);
    let moved = 0;
    const rollout = rolloutFleet(await refOf(v8), 'd8', { timeoutMs: 20_000 }, {
      ...deps,
      signal: abort.signal,
      heartbeat: (p) => {
        if (p.phase === 'rollout' && (p.done ?? 0) >= 1 && moved++ === 0) abort.abort();
      },
    });
    await expect(rollout).rejects.toBeInstanceOf(RolloutError);
    await expect(rollout).rejects.toMatchObject({ code: 'ROLLOUT_CANCELLED' });
    const versions = await Promise.all(['w1', 'w2', 'w3'].map(served));
    expect(versions).toEqual([before?.version, before?.version, before?.version]);
    await deps.leases.release(modelName, 'd8');
  });
});
