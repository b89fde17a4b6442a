import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiSchema } from '../../api/config';
import { startApi, type RunningApi } from '../../api/server';
import { loadConfig } from '../../lib/env';
import { RolloutLeases } from '../../lib/fleet/lease';
import { finalizeRollout, rolloutFleet } from '../../lib/fleet/rollout';
import { readModelMetadata } from '../../lib/model/metadata';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { metricTotal } from '../support/metrics';
import { ServingStack, testLogger } from '../support/serving-stack';
import { makeTestModel, refFor } from '../support/test-model';

jest.setTimeout(90_000);

/** Several instances of every serving process on one Redis: replies find their API instance, the load spreads, a rollout moves everyone. */
describe('serving: 2 API instances and 4 inference workers', () => {
  let dir: string;
  let stack: ServingStack;
  const apis: RunningApi[] = [];
  afterAll(async () => {
    await Promise.all(apis.map((a) => a.close()));
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('routes every reply to the instance holding the request, uses every worker, and rolls all four over', async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-scale-'));
    const [v1, v2] = [makeTestModel(dir, { seed: 11 }), makeTestModel(dir, { seed: 12 })];
    const [ref1, ref2] = [refFor(v1, '1'), refFor(v2, '2')];
    stack = new ServingStack();
    stack.registry.add(ref1, v1.bytes).add(ref2, v2.bytes);
    await stack.setActive(ref1, v1.bytes);
    const workers = [];
    for (let i = 0; i < 4; i++) workers.push(await stack.startWorker({ MAX_BATCH_WAIT_MS: '0' }));
    await Promise.all(workers.map((w) => w.ready()));
    for (const id of ['api-a', 'api-b']) {
      const config = loadConfig(apiSchema, { ...stack.target, REDIS_PREFIX: stack.prefix, PORT: '0', MODEL_NAME: 'test-classifier', API_INSTANCE_ID: id, ACTIVE_MODEL_REFRESH_MS: '100' });
      apis.push(await startApi(config, testLogger()));
    }
    const urls = apis.map((a) => `http://127.0.0.1:${(a.app.server.address() as { port: number }).port}/predict`);
    const images = await Promise.all(Array.from({ length: 12 }, (_, i) => testImage(i)));

    // Each client sticks to one instance: a reply that went to the other instance's stream would never arrive (504).
    const loads = urls.map((url) => startLoad({ url: () => url, images, concurrency: 8, total: 300 }));
    const [a, b] = await Promise.all(loads.map((l) => l.done));
    expect(byStatus(a!)).toEqual({ 200: 300 });
    expect(byStatus(b!)).toEqual({ 200: 300 });
    const processed = await Promise.all(workers.map((w) => metricTotal(w.registry, 'lifecycle_inference_requests_processed_total')));
    expect(processed.reduce((x, y) => x + y, 0)).toBe(600);
    expect(processed.every((n) => n > 0)).toBe(true);
    // Nothing left behind in either instance's reply routing.
    expect(apis.map((api) => api.inference.inFlight)).toEqual([0, 0]);

    const leases = new RolloutLeases(stack.redis, stack.prefix);
    const deps = { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 30_000, heartbeat: () => undefined };
    const during = urls.map((url) => startLoad({ url: () => url, images, concurrency: 4 }));
    const { workers: moved } = await rolloutFleet(ref2, 'scale-v2', { timeoutMs: 30_000 }, deps);
    stack.registry.setAlias('champion', ref2); // the saga's pivot: the alias moves before finalize
    await finalizeRollout({ ...ref2, metadata: readModelMetadata(v2.bytes) }, 'scale-v2', deps);
    await leases.release('test-classifier', 'scale-v2');
    const outcomes = (await Promise.all(during.map((l) => l.stop()))).flat();
    expect(moved).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect(workers.map((w) => w.current.models['test-classifier']?.version)).toEqual(['2', '2', '2', '2']);
    expect(byStatus(outcomes)).toEqual({ 200: outcomes.length });
  });
});
