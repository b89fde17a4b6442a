import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createRolloutActivities } from '../../activities/rollout';
import { TRAFFIC_PLAN_TAG, type TrafficState } from '../../lib/fleet/protocol';
import { parseTrafficPlan, readTrafficState } from '../../lib/fleet/traffic-states';
import type { RegisteredVersion } from '../../lib/lifecycle/types';
import { MlflowClient } from '../../lib/mlflow/client';
import { testImage } from '../support/images';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, uniqueId } from './support/env';

jest.setTimeout(120_000);

/**
 * setTraffic and clearTraffic against a real MLflow registry (the plan is a
 * registered-model tag), real Redis and two in-process onnxruntime inference
 * workers that read the registry through the same MLflow client.
 */
describe('traffic activities: the plan through the registry to every worker and back', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('traffic');
  let dir: string;
  let stack: ServingStack;
  let models: TestModel[];
  let v1: RegisteredVersion;
  let v2: RegisteredVersion;
  const activities = (deployTimeoutMs = 30_000) => createRolloutActivities({ mlflow, redis: stack.redis, redisPrefix: stack.prefix, deployTimeoutMs, leaseTtlMs: 10_000 });
  const run = <A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment().run<A, R, typeof fn>(fn, ...args);
  const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };
  const candidateOf = async (id: string) => (await stack.workerStatus(id))?.models[modelName]?.candidate;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'traffic-activities-'));
    models = [makeTestModel(dir, { seed: 1 }), makeTestModel(dir, { seed: 2 }), makeTestModel(dir, { seed: 3, golden: 'bad' })];
    stack = new ServingStack();
    v1 = await registerTestModel(mlflow, modelName, models[0]!, 'champion');
    v2 = await registerTestModel(mlflow, modelName, models[1]!);
    for (let i = 0; i < 2; i++) {
      const worker = await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, FLEET_CONTROLLER_INTERVAL_MS: '200' }, { registry: mlflow });
      await worker.ready();
    }
    await stack.startApi({ MODEL_NAME: modelName });
    await stack.waitForApiReady();
  });
  afterAll(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('needs the rollout lease: without it setTraffic fails LEASE_LOST and writes nothing', async () => {
    const failure = await failureOf(run(activities().setTraffic, { model: v2, deploymentId: 'no-lease', mode: 'shadow', share: 1 }));
    expect(failure).toMatchObject({ type: 'LEASE_LOST', nonRetryable: true });
    expect(await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG)).toBeNull();
  });

  it('setTraffic puts the plan in the registry and returns once every worker holds the candidate; a retry keeps the step; clearTraffic takes it all back', async () => {
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd-canary' });
    const applied = await run(a.setTraffic, { model: v2, deploymentId: 'd-canary', mode: 'canary', share: 1, mirrorShare: 0, maxDurationMs: 60_000 });
    expect(applied.workers.sort()).toEqual(['w1', 'w2']);
    const plan = parseTrafficPlan((await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG))!);
    expect(plan).toMatchObject({ version: v2.version, mode: 'canary', share: 1, mirrorShare: 0, deploymentId: 'd-canary', maxDurationMs: 60_000 });
    const state = (await readTrafficState(stack.redis, stack.prefix, modelName)) as TrafficState;
    expect(state).toMatchObject({ version: v2.version, candidate: { name: modelName, version: v2.version, sha256: models[1]!.sha256 } });
    expect([await candidateOf('w1'), await candidateOf('w2')]).toEqual([{ version: v2.version, state: 'ready' }, { version: v2.version, state: 'ready' }]);

    // A retried attempt of the same step changes nothing: the step keeps its start time.
    await run(a.setTraffic, { model: v2, deploymentId: 'd-canary', mode: 'canary', share: 1, mirrorShare: 0, maxDurationMs: 60_000 });
    expect(parseTrafficPlan((await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG))!).setAt).toBe(plan.setAt);

    // share 1: the candidate answers (once the API re-read the plan).
    await stack.waitFor(async () => ((await stack.predict(await testImage(1), {}, `/models/${modelName}/predict`)).body.model as { version: string }).version === v2.version, 5000, 'the candidate to answer');

    await run(a.clearTraffic, { modelName, deploymentId: 'd-canary' });
    expect(await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG)).toBeNull();
    expect(await readTrafficState(stack.redis, stack.prefix, modelName)).toBeNull();
    await stack.waitFor(async () => (await candidateOf('w1')) === undefined && (await candidateOf('w2')) === undefined, 10_000, 'the candidate to be unloaded');
    // Clearing again (a retry) is a no-op.
    await run(a.clearTraffic, { modelName, deploymentId: 'd-canary' });
    await run(a.releaseRolloutLease, { modelName, deploymentId: 'd-canary' });
    expect(((await stack.predict(await testImage(2), {}, `/models/${modelName}/predict`)).body.model as { version: string }).version).toBe(v1.version);
  });

  it('a candidate the workers refuse (golden check) fails setTraffic non-retryably with the worker\'s code; the champion keeps serving', async () => {
    const bad = await registerTestModel(mlflow, modelName, models[2]!);
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd-bad' });
    try {
      const failure = await failureOf(run(a.setTraffic, { model: bad, deploymentId: 'd-bad', mode: 'shadow', share: 1 }));
      expect(failure).toMatchObject({ type: 'GOLDEN_CHECK_FAILED', nonRetryable: true });
      expect(((await stack.predict(await testImage(3), {}, `/models/${modelName}/predict`)).body.model as { version: string }).version).toBe(v1.version);
    } finally {
      await run(a.clearTraffic, { modelName, deploymentId: 'd-bad' });
      await run(a.releaseRolloutLease, { modelName, deploymentId: 'd-bad' });
    }
  });

  it('a version whose file does not match its recorded sha256 fails setTraffic with MODEL_CHECKSUM_MISMATCH before any plan is written', async () => {
    const registered = await registerTestModel(mlflow, modelName, models[1]!);
    await mlflow.setModelVersionTag(modelName, registered.version, 'lifecycle.sha256', models[0]!.sha256);
    const a = activities();
    await run(a.acquireRolloutLease, { modelName, deploymentId: 'd-sha' });
    try {
      const failure = await failureOf(run(a.setTraffic, { model: registered, deploymentId: 'd-sha', mode: 'canary', share: 0.5 }));
      expect(failure).toMatchObject({ type: 'MODEL_CHECKSUM_MISMATCH', nonRetryable: true });
      expect(await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG)).toBeNull();
    } finally {
      await run(a.releaseRolloutLease, { modelName, deploymentId: 'd-sha' });
    }
  });

  it('clearTraffic leaves another rollout\'s plan alone', async () => {
    const other = JSON.stringify({ version: v2.version, mode: 'shadow', share: 0.1, deploymentId: 'someone-else', setAt: Date.now() });
    await mlflow.setRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG, other);
    try {
      await run(activities(5000).clearTraffic, { modelName, deploymentId: 'd-mine' });
      expect(await mlflow.registeredModelTag(modelName, TRAFFIC_PLAN_TAG)).toBe(other);
    } finally {
      await mlflow.deleteRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG);
    }
  });
});
