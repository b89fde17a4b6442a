import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient } from '../../lib/mlflow/client';
import { startProcess, type RunningProcess } from '../support/child-process';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { OwnRedis } from '../support/redis-server';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, REDIS_URL, uniqueId } from './support/env';

jest.setTimeout(120_000);

/**
 * Faults on the serving path with the DEFAULT timing settings (liveness TTL,
 * reap interval, request deadline): what a user running `make up` gets.
 */
describe('serving faults with default settings', () => {
  let dir: string;
  let model: TestModel;
  let images: Buffer[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-faults-'));
    model = makeTestModel(dir, { seed: 1 });
    images = await Promise.all(Array.from({ length: 20 }, (_, i) => testImage(i)));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describe('kill -9 of an inference worker process', () => {
    const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
    const modelName = uniqueId('faults');
    let stack: ServingStack;
    let workers: RunningProcess[] = [];

    beforeAll(async () => {
      await registerTestModel(mlflow, modelName, model, 'champion');
      stack = new ServingStack();
    });
    afterAll(async () => {
      for (const w of workers) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await stack.close();
    });

    it('loses no request of a few hundred in flight: a live worker takes over the dead one\'s at once', async () => {
      const env = (id: string) => ({
        REDIS_URL,
        REDIS_PREFIX: stack.prefix,
        MLFLOW_TRACKING_URI,
        MODEL_NAME: modelName,
        SERVED_MODELS: modelName,
        WORKER_ID: id,
        METRICS_PORT: '0',
        MODEL_CACHE_DIR: stack.cacheDir,
      });
      workers = [startProcess('workers/inference-worker.ts', env('pw1')), startProcess('workers/inference-worker.ts', env('pw2'))];
      await Promise.all(workers.map((w) => w.waitForOutput('model swapped in', 60_000)));
      await stack.startApi({ MODEL_NAME: modelName, REQUEST_TIMEOUT_MS: '10000' });
      await stack.waitFor(async () => (await fetch(`${stack.baseUrl}/readyz`)).status === 200, 10_000, 'the API to be ready');

      const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 16, total: 400 });
      await stack.waitFor(() => load.outcomes.length >= 100, 60_000, '100 answers');
      workers[0]!.child.kill('SIGKILL');
      const outcomes = await load.done;

      expect(outcomes).toHaveLength(400);
      if (byStatus(outcomes)[200] !== 400) {
        console.log(JSON.stringify(outcomes.filter((o) => o.status !== 200)));
        console.log(workers[1]!.output().stdout.split('\n').filter((l) => /took over|dead|removed|failed|error/i.test(l)).join('\n'));
      }
      expect(byStatus(outcomes)).toEqual({ 200: 400 });
      // Nothing was left behind: the dead worker's pending entries were answered and its consumer removed.
      await stack.waitFor(async () => (await stack.redis.xlen(stack.requestsKey(modelName))) === 0, 5000, 'an empty stream');
      await stack.waitFor(async () => {
        const consumers = (await stack.redis.xinfo('CONSUMERS', stack.requestsKey(modelName), 'inference-workers')) as unknown[][];
        return consumers.length === 1 && String(consumers[0]?.[1]) === 'pw2';
      }, 10_000, 'the dead consumer to leave the group');
    });
  });

  describe('Redis restarted empty under load', () => {
    let redis: OwnRedis;
    let stack: ServingStack;

    beforeAll(async () => {
      redis = await OwnRedis.start();
      stack = new ServingStack(undefined, redis.url);
    });
    afterAll(async () => {
      await stack.close().catch(() => undefined);
      await redis.kill();
    });

    it('answers only 503 with Retry-After during the outage, never hangs, and serves again without any restart', async () => {
      const ref = refFor(model, '1');
      stack.registry.add(ref, model.bytes).setAlias('champion', ref);
      const worker = await stack.startWorker();
      await worker.ready();
      await stack.startApi({ REQUEST_TIMEOUT_MS: '10000' });
      await stack.waitFor(async () => (await fetch(`${stack.baseUrl}/readyz`)).status === 200, 10_000, 'ready');

      const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 8, timeoutMs: 12_000 });
      await stack.waitFor(() => load.outcomes.filter((o) => o.status === 200).length >= 50, 30_000, 'traffic before the outage');
      await redis.kill();
      await new Promise((r) => setTimeout(r, 3000));
      const restartedAt = Date.now();
      await redis.restart();
      // Service resumes: 200s again, from the same processes.
      const sentBeforeRecovery = load.outcomes.length;
      await stack.waitFor(() => load.outcomes.slice(sentBeforeRecovery).filter((o) => o.status === 200).length >= 20, 20_000, '200s after the restart');
      const recoveredInMs = Date.now() - restartedAt;
      const outcomes = await load.stop();

      const statuses = byStatus(outcomes);
      expect(Object.keys(statuses).map(Number).sort()).toEqual([200, 503]);
      expect(outcomes.filter((o) => o.status === 503).every((o) => o.retryAfter !== null)).toBe(true);
      expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(11_000); // none waited past its deadline
      expect(recoveredInMs).toBeLessThan(20_000);
      const ready = await fetch(`${stack.baseUrl}/readyz`);
      expect(ready.status).toBe(200);
      // The fleet's active version was rebuilt from the registry's champion, not from anything the API kept.
      expect(await stack.redis.hget(stack.keys.active, 'test-classifier')).toContain('"version":"1"');
    });
  });
});
