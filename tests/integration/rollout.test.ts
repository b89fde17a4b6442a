import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeployError, deployModel } from '../../activities/rollout';
import { fleetKeys, type ActiveModel, type WorkerStatus } from '../../lib/fleet/protocol';
import { MlflowClient } from '../../lib/mlflow/client';
import { createOrtSession, type CreateSession } from '../../workers/inference/model-runner';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, type TestModel } from '../support/test-model';
import { MLFLOW_TRACKING_URI, uniqueId } from './support/env';

/**
 * The rollout activity against a real MLflow registry (versions with proxied
 * ONNX artifacts), real Redis and two in-process onnxruntime inference workers.
 */
describe('deployModel: one worker at a time, rolled back on failure', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('rollout');
  let dir: string;
  let stack: ServingStack;
  let models: TestModel[];
  let statuses: WorkerStatus[][];
  let watcher: NodeJS.Timeout | undefined;

  /** Registers `model` as the next version of `modelName`, the way the pipeline does. */
  async function register(model: TestModel): Promise<{ name: string; version: string }> {
    const experimentId = await mlflow.getOrCreateExperiment(modelName);
    const run = await mlflow.createRun(experimentId, 'rollout-test', {});
    const onnxUri = `${run.info.artifact_uri}/model/model.onnx`;
    await mlflow.uploadArtifact(onnxUri, model.bytes);
    await mlflow.ensureRegisteredModel(modelName);
    const mv = await mlflow.createModelVersion(modelName, `${run.info.artifact_uri}/model`, run.info.run_id, {
      'lifecycle.sha256': model.sha256,
      'lifecycle.onnx_uri': onnxUri,
    });
    return { name: modelName, version: mv.version };
  }

  const deps = () => ({ mlflow, redis: stack.redis, prefix: stack.prefix, heartbeat: () => undefined, pollIntervalMs: 50 });
  const active = async () => JSON.parse((await stack.redis.get(fleetKeys(stack.prefix).active)) ?? 'null') as ActiveModel | null;
  const served = async (id: string) => (await stack.workerStatus(id))?.model?.version;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-'));
    models = [1, 2, 3].map((seed) => makeTestModel(dir, { seed }));
    stack = new ServingStack();
    const v1 = await register(models[0]!);
    const first = await deployModel({ model: v1, deploymentId: 'bootstrap', timeoutMs: 30_000 }, deps());
    expect(first.workers).toEqual([]); // no workers yet: it only becomes the active model
    // w2 cannot load the third model (say, a node without the memory for it); w1 can.
    const failOnThird: CreateSession = (onnx, opts) =>
      Buffer.from(onnx).equals(models[2]!.bytes) ? Promise.reject(new Error('out of memory')) : createOrtSession(onnx, opts);
    for (const extra of [{}, { createSession: failOnThird }]) {
      const worker = await stack.startWorker({ MODEL_NAME: modelName }, { registry: mlflow, ...extra });
      await worker.ready();
    }
    expect([await served('w1'), await served('w2')]).toEqual([v1.version, v1.version]);
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

  it('moves every worker to the new version, never two loading at once, then makes it active', async () => {
    const v2 = await register(models[1]!);
    const result = await deployModel({ model: v2, deploymentId: 'd2', timeoutMs: 30_000 }, deps());
    expect(result.workers).toEqual(['w1', 'w2']);
    expect([await served('w1'), await served('w2')]).toEqual([v2.version, v2.version]);
    expect((await active())?.version).toBe(v2.version);
    const loadingAtOnce = statuses.map((s) => s.filter((w) => w.state === 'loading').length);
    expect(Math.max(0, ...loadingAtOnce)).toBeLessThanOrEqual(1);
    // w1 was on the new version while w2 still served the old one: one at a time.
    expect(statuses.some((s) => s.find((w) => w.workerId === 'w1')?.model?.version === v2.version && s.find((w) => w.workerId === 'w2')?.model?.version !== v2.version)).toBe(true);
  });

  it('rolls the moved workers back and keeps the active model when a later worker fails', async () => {
    const before = await active();
    const v3 = await register(models[2]!);
    await expect(deployModel({ model: v3, deploymentId: 'd3', timeoutMs: 30_000 }, deps())).rejects.toThrow(DeployError);
    expect(statuses.some((s) => s.find((w) => w.workerId === 'w1')?.model?.version === v3.version)).toBe(true); // w1 had moved
    expect([await served('w1'), await served('w2')]).toEqual([before?.version, before?.version]);
    expect([(await stack.workerStatus('w1'))?.state, (await stack.workerStatus('w2'))?.state]).toEqual(['ready', 'ready']);
    expect((await active())?.version).toBe(before?.version);
  });

  it('refuses a version whose file does not match the registered sha256 before touching the fleet', async () => {
    const bad = await register(models[0]!);
    await mlflow.setModelVersionTag(modelName, bad.version, 'lifecycle.sha256', '0'.repeat(64));
    await expect(deployModel({ model: bad, deploymentId: 'd4', timeoutMs: 30_000 }, deps())).rejects.toThrow(/sha256/);
    expect(statuses.every((s) => s.every((w) => w.state === 'ready'))).toBe(true);
  });
});
