import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readActiveModel } from '../../lib/fleet/active-models';
import type { DeployCommand, ModelRef, ServedModelStatus } from '../../lib/fleet/protocol';
import { testImage } from '../support/images';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor, type TestModel } from '../support/test-model';

jest.setTimeout(30_000);

describe('serving: model hot-swap and start-up', () => {
  let v1: TestModel;
  let v2: TestModel;
  let badGolden: TestModel;
  let stack: ServingStack;
  let ref1: ModelRef;
  let ref2: ModelRef;

  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'serving-rollout-'));
    v1 = makeTestModel(dir, { seed: 1 });
    v2 = makeTestModel(dir, { seed: 2 });
    badGolden = makeTestModel(dir, { seed: 3, golden: 'bad' });
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  beforeEach(() => {
    stack = new ServingStack();
    ref1 = refFor(v1, '1');
    ref2 = refFor(v2, '2');
    stack.registry.add(ref1, v1.bytes).add(ref2, v2.bytes);
  });

  afterEach(async () => {
    await stack.close();
  });

  const deploy = async (model: ModelRef, deploymentId: string, workerId?: string) => {
    const command: DeployCommand = { type: 'deploy', deploymentId, model, ...(workerId ? { workerId } : {}) };
    await stack.redis.publish(stack.keys.commands, JSON.stringify(command));
  };
  const statusOf = (deploymentId: string, state: ServedModelStatus['state']) =>
    stack.waitFor(async () => {
      const s = (await stack.workerStatus('w1'))?.models['test-classifier'];
      return s?.deploymentId === deploymentId && s.state === state ? s : null;
    }, 10_000, `w1 ${state} for ${deploymentId}`);
  const servedVersion = (worker: { current: { models: Record<string, ServedModelStatus> } }) => worker.current.models['test-classifier']?.version;

  it('swaps to the deployed version without failing requests in flight', async () => {
    await stack.setActive(ref1, v1.bytes);
    await stack.startApi();
    // The deploy below holds no rollout lease and the fleet's active version stays v1: a reconcile tick would
    // move the worker back to v1 before the metrics are read on a busy machine (seen with the 2 s default).
    const worker = await stack.startWorker({ RECONCILE_INTERVAL_MS: '60000' });
    await worker.ready();
    expect((await stack.predict(await testImage(1))).body).toMatchObject({ model: { version: '1' } });

    let traffic = true;
    const statuses: number[] = [];
    const load = (async () => {
      while (traffic) statuses.push((await stack.predict(await testImage(statuses.length))).status);
    })();
    await deploy(ref2, 'd-2');
    const status = await statusOf('d-2', 'ready');
    expect(status).toMatchObject({ version: '2', sha256: v2.sha256 });
    expect((await stack.predict(await testImage(1))).body).toMatchObject({ model: { version: '2' } });
    traffic = false;
    await load;
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const metrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(metrics).toContain('lifecycle_inference_model_info{name="test-classifier",version="2"} 1');
    expect(metrics).not.toContain('lifecycle_inference_model_info{name="test-classifier",version="1"} 1');
  });

  it('refuses a file whose sha256 differs from the registry, reports failed and keeps serving', async () => {
    await stack.setActive(ref1, v1.bytes);
    await stack.startApi();
    await (await stack.startWorker()).ready();
    const tampered: ModelRef = { ...ref2, version: '3', artifactUri: 'test-artifacts:/3/tampered.onnx' };
    stack.registry.add(tampered, v1.bytes); // v1's bytes where v2's hash is registered
    await deploy(tampered, 'd-3');
    const status = await statusOf('d-3', 'failed');
    expect(status.error?.code).toBe('MODEL_CHECKSUM_MISMATCH');
    expect(status.version).toBe('1');
    expect((await stack.predict(await testImage(1))).body).toMatchObject({ model: { version: '1' } });
  });

  it('refuses a model whose golden check fails', async () => {
    await stack.setActive(ref1, v1.bytes);
    await stack.startApi();
    await (await stack.startWorker()).ready();
    const bad = refFor(badGolden, '4');
    stack.registry.add(bad, badGolden.bytes);
    await deploy(bad, 'd-4');
    const status = await statusOf('d-4', 'failed');
    expect(status.error?.code).toBe('GOLDEN_CHECK_FAILED');
    expect(status.version).toBe('1');
  });

  it('ignores deploy commands addressed to another worker', async () => {
    await stack.setActive(ref1, v1.bytes);
    const worker = await stack.startWorker();
    await worker.ready();
    await deploy(ref2, 'd-other', 'someone-else');
    await new Promise((r) => setTimeout(r, 300));
    expect(servedVersion(worker)).toBe('1');
  });

  it('loads the registry champion at start-up when the fleet has no active model, and claims it as active', async () => {
    stack.registry.setAlias('champion', ref2);
    const worker = await stack.startWorker();
    await worker.ready();
    expect(worker.current).toMatchObject({ state: 'ready', models: { 'test-classifier': { version: '2', state: 'ready' } } });
    const active = await stack.waitFor(() => readActiveModel(stack.redis, stack.prefix, 'test-classifier'), 2000, 'the active entry');
    expect(active).toMatchObject({ name: 'test-classifier', version: '2', sha256: v2.sha256 });
    expect(active.metadata.labels).toHaveLength(10);
    expect(active.metadata.input).toMatchObject({ height: 28, width: 28 });
  });

  it('rebuilds the active entry when Redis holds something else under its key (an older layout)', async () => {
    await stack.redis.set(stack.keys.active, JSON.stringify({ name: 'test-classifier', version: '1' }));
    stack.registry.setAlias('champion', ref2);
    const worker = await stack.startWorker();
    await worker.ready();
    const active = await stack.waitFor(() => readActiveModel(stack.redis, stack.prefix, 'test-classifier'), 5000, 'the rebuilt active entry');
    expect(active.version).toBe('2');
    expect(await stack.redis.type(stack.keys.active)).toBe('hash');
  });

  it('waits in state starting without a model, then loads the first deploy it receives', async () => {
    const worker = await stack.startWorker();
    expect(await stack.workerStatus('w1')).toMatchObject({ models: { 'test-classifier': { version: null, state: 'starting' } } });
    await deploy(ref1, 'd-first');
    await statusOf('d-first', 'ready');
    await worker.ready();
    expect(servedVersion(worker)).toBe('1');
  });
});
