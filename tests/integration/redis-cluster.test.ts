import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readActiveModel } from '../../lib/fleet/active-models';
import { RolloutLeases } from '../../lib/fleet/lease';
import type { ModelRef } from '../../lib/fleet/protocol';
import { finalizeRollout, rolloutFleet } from '../../lib/fleet/rollout';
import { readModelMetadata } from '../../lib/model/metadata';
import { queueKeys } from '../../lib/queue/keys';
import type { InferenceWorker } from '../../workers/inference/worker';
import { testImage } from '../support/images';
import { byStatus, startLoad, type Outcome } from '../support/load';
import { OwnRedisCluster } from '../support/redis-cluster';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor, type TestModel } from '../support/test-model';

jest.setTimeout(180_000);

const SHOES = ['boot', 'sandal', 'sneaker'];
const REQUEST_TIMEOUT_MS = 5000;

/**
 * The serving path on a real Redis Cluster of the test's own (three masters, three replicas, redis-server in
 * cluster mode on loopback ports): every process connects through REDIS_CLUSTER_NODES, as `make up
 * REDIS_CLUSTER_NODES=...` and the production overlay do.
 */
describe('serving on a Redis Cluster (3 masters + 3 replicas)', () => {
  let cluster: OwnRedisCluster;
  let stack: ServingStack;
  let dir: string;
  let models: Record<'fashion1' | 'fashion2' | 'shoes1' | 'shoes2', TestModel>;
  let refs: Record<keyof typeof models, ModelRef>;
  let workers: InferenceWorker[];
  let images: Buffer[];

  beforeAll(async () => {
    cluster = await OwnRedisCluster.start();
    dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'));
    models = {
      fashion1: makeTestModel(dir, { seed: 31 }),
      fashion2: makeTestModel(dir, { seed: 32 }),
      shoes1: makeTestModel(dir, { seed: 33, size: 32, channels: 3, labels: SHOES, mean: 0.5, std: 0.25 }),
      shoes2: makeTestModel(dir, { seed: 34, size: 32, channels: 3, labels: SHOES, mean: 0.4, std: 0.3 }),
    };
    refs = {
      fashion1: refFor(models.fashion1, '1'),
      fashion2: refFor(models.fashion2, '2'),
      shoes1: refFor(models.shoes1, '1', 'shoes'),
      shoes2: refFor(models.shoes2, '2', 'shoes'),
    };
    stack = new ServingStack(undefined, undefined, cluster.seeds);
    for (const key of Object.keys(refs) as Array<keyof typeof refs>) stack.registry.add(refs[key], models[key].bytes);
    stack.registry.setAlias('champion', refs.fashion1).setAlias('champion', refs.shoes1);
    workers = [];
    for (let i = 0; i < 2; i++) workers.push(await stack.startWorker({ SERVED_MODELS: 'test-classifier,shoes' }));
    await Promise.all(workers.flatMap((w) => [w.ready('test-classifier'), w.ready('shoes')]));
    await stack.startApi({ REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
    await stack.waitForApiReady();
    images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i)));
  });

  afterAll(async () => {
    await stack?.close();
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const loadOn = (path: string, concurrency: number) => startLoad({ url: () => `${stack.baseUrl}${path}`, images, concurrency, timeoutMs: 30_000 });
  const versions = (outcomes: Outcome[]) => new Set(outcomes.filter((o) => o.status === 200).map((o) => (o.body?.model as { version: string }).version));

  /** The registry's champion, the fleet's active version and every worker's served version of `model`, as one list. */
  const agreement = async (model: string): Promise<string[]> => {
    const active = await readActiveModel(stack.redis, stack.prefix, model);
    return [(await stack.registry.resolveModelRef(model, 'champion'))?.version ?? '-', active?.version ?? '-', ...workers.map((w) => w.current.models[model]?.version ?? '-')];
  };

  it('puts the two models on different masters, each model with its stream, group and lease in one slot', async () => {
    const keys = queueKeys(stack.prefix);
    const lease = (model: string) => stack.keys.lease(model);
    const [fashionStream, shoesStream] = await Promise.all([cluster.masterOf(keys.requests('test-classifier')), cluster.masterOf(keys.requests('shoes'))]);
    expect(fashionStream).not.toBe(shoesStream);
    expect(await cluster.masterOf(lease('test-classifier'))).toBe(fashionStream);
    expect(await cluster.masterOf(lease('shoes'))).toBe(shoesStream);
    // Both streams exist on their masters, with the workers' consumer group (created by the workers at start).
    const groups = await Promise.all(['test-classifier', 'shoes'].map((m) => stack.redis.xinfo('GROUPS', keys.requests(m)) as Promise<unknown[]>));
    expect(groups.map((g) => g.length)).toEqual([1, 1]);
  });

  it('rolls both models out under load on both with no failed request', async () => {
    const fashionLoad = loadOn('/predict', 6);
    const shoesLoad = loadOn('/models/shoes/predict', 4);
    await stack.waitFor(() => fashionLoad.outcomes.length > 50 && shoesLoad.outcomes.length > 30, 15_000, 'traffic on both models');
    const leases = new RolloutLeases(stack.redis, stack.prefix);
    const deps = { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 30_000, heartbeat: () => undefined };
    for (const [ref, model, id] of [[refs.fashion2, models.fashion2, 'fashion-v2'], [refs.shoes2, models.shoes2, 'shoes-v2']] as const) {
      const { workers: moved } = await rolloutFleet(ref, id, { timeoutMs: 30_000 }, deps);
      expect(moved).toEqual(['w1', 'w2']);
      stack.registry.setAlias('champion', ref);
      await finalizeRollout({ ...ref, metadata: readModelMetadata(model.bytes) }, id, deps);
      await leases.release(ref.name, id);
    }
    const sent = fashionLoad.outcomes.length + shoesLoad.outcomes.length;
    await stack.waitFor(() => fashionLoad.outcomes.length + shoesLoad.outcomes.length > sent + 80, 15_000, 'traffic after the rollouts');
    const [fashion, shoes] = await Promise.all([fashionLoad.stop(), shoesLoad.stop()]);

    expect(byStatus(fashion)).toEqual({ 200: fashion.length });
    expect(byStatus(shoes)).toEqual({ 200: shoes.length });
    expect(versions(fashion)).toEqual(new Set(['1', '2']));
    expect(versions(shoes)).toEqual(new Set(['1', '2']));
    expect(await agreement('test-classifier')).toEqual(['2', '2', '2', '2']);
    expect(await agreement('shoes')).toEqual(['2', '2', '2', '2']);
  });

  it('fails a killed master over to its replica under load: every request is answered within its deadline, and serving, fleet and registry agree afterwards', async () => {
    // The master of the default model's stream; it also holds the fleet-wide `{fleet}` slot (active versions,
    // worker statuses, the controller lease), so the fleet's own state fails over too.
    const victim = await cluster.masterOf(queueKeys(stack.prefix).requests('test-classifier'));
    const fashionLoad = loadOn('/predict', 6);
    const shoesLoad = loadOn('/models/shoes/predict', 4);
    await stack.waitFor(() => fashionLoad.outcomes.length > 50, 15_000, 'traffic before the kill');
    const killedAt = Date.now();
    await cluster.kill(victim);
    await cluster.waitUntilHealthy(30_000);
    const failedOverMs = Date.now() - killedAt;
    expect(await cluster.masters()).not.toContain(victim);
    // Served again: 100 consecutive answers on the default model after the failover, all 200.
    const servedAgain = await stack.waitFor(() => {
      const after = fashionLoad.outcomes.filter((o) => o.at > killedAt + failedOverMs);
      const last = after.slice(-100);
      return last.length === 100 && last.every((o) => o.status === 200) ? Date.now() - killedAt : null;
    }, 60_000, '100 consecutive answers 200 after the failover');
    const [fashion, shoes] = await Promise.all([fashionLoad.stop(), shoesLoad.stop()]);
    const all = [...fashion, ...shoes];

    // What the failover cost, for the record (asserted below: only these outcomes, never a hang).
    const slowest = Math.max(...all.map((o) => o.ms));
    console.log(
      `redis-cluster failover: master ${victim} killed; cluster healthy after ${failedOverMs} ms; 100 consecutive 200s ${servedAgain} ms after the kill; ` +
        `default model ${JSON.stringify(byStatus(fashion))}, shoes ${JSON.stringify(byStatus(shoes))}; slowest answer ${Math.round(slowest)} ms`,
    );
    // Every request got an HTTP answer: 200, or 503 with Retry-After while its slot had no master (refused,
    // not accepted), or 504 at the deadline for an accepted request whose entry or reply the dead master took
    // with it (asynchronous replication: writes it had not yet sent to its replica are gone).
    for (const o of all) expect([200, 503, 504]).toContain(o.status);
    for (const o of all.filter((x) => x.status === 503)) expect(o.retryAfter).not.toBeNull();
    expect(slowest).toBeLessThan(REQUEST_TIMEOUT_MS + 2000);
    // Nothing changed hands: the registry, the fleet's active versions and both workers agree.
    await stack.waitFor(async () => (await agreement('test-classifier')).every((v) => v === '2'), 15_000, 'the default model to agree');
    expect(await agreement('shoes')).toEqual(['2', '2', '2', '2']);
    expect(workers.every((w) => w.current.state === 'ready')).toBe(true);
    const after = await stack.predict(images[0]!, {}, '/models/shoes/predict');
    expect(after.status).toBe(200);
  });
});
