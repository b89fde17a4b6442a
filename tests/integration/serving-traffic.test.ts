import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TRAFFIC_PLAN_TAG, type ModelRef, type TrafficPlan } from '../../lib/fleet/protocol';
import { VERSION_METRICS } from '../../lib/metrics/version-metric-names';
import type { InferenceWorker } from '../../workers/inference/worker';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { OwnRedis } from '../support/redis-server';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor, type TestModel } from '../support/test-model';

jest.setTimeout(90_000);

const MODEL = 'test-classifier';

/** Sum of a worker counter or gauge over the label sets that match `labels`. */
async function metricSum(workers: InferenceWorker[], name: string, labels: Record<string, string>): Promise<number> {
  let sum = 0;
  for (const w of workers) {
    const metric = w.registry.getSingleMetric(name);
    if (!metric) throw new Error(`no metric ${name}`);
    for (const s of (await metric.get()).values as Array<{ value: number; labels: Record<string, unknown> }>) {
      if (Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v)) sum += s.value;
    }
  }
  return sum;
}

/**
 * Shadow and canary traffic through the real serving path: real Redis, the
 * API over HTTP, two in-process inference workers running real onnxruntime
 * sessions of two versions, and the fleet controller following the traffic
 * plan tag of the (fake) registry.
 */
describe('serving: progressive-rollout traffic (shadow, canary)', () => {
  let dir: string;
  let v1: TestModel;
  let v2: TestModel;
  let ref1: ModelRef;
  let ref2: ModelRef;
  let images: Buffer[];
  let stack: ServingStack;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-traffic-'));
    v1 = makeTestModel(dir, { seed: 1 });
    v2 = makeTestModel(dir, { seed: 2 });
    images = await Promise.all(Array.from({ length: 20 }, (_, i) => testImage(i)));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const plan = (overrides: Partial<TrafficPlan>): TrafficPlan => ({ version: '2', mode: 'canary', share: 0.3, mirrorShare: 0.25, deploymentId: 'd-traffic', setAt: Date.now(), ...overrides });

  /** Writes the plan tag (null removes it) and asks the fleet controller to follow it now, as setTraffic does. */
  const setPlan = async (value: TrafficPlan | null) => {
    stack.registry.setModelTag(MODEL, TRAFFIC_PLAN_TAG, value && JSON.stringify(value));
    await stack.redis.publish(stack.keys.commands, JSON.stringify({ type: 'sync', model: MODEL }));
  };
  const candidateOf = async (id: string) => (await stack.workerStatus(id))?.models[MODEL]?.candidate;
  /** Until both workers hold the candidate and the API routes by the plan (GET /models says so). */
  const candidateReady = async (version: string) => {
    await stack.waitFor(async () => (await Promise.all(['w1', 'w2'].map(candidateOf))).every((c) => c?.version === version && c.state === 'ready'), 20_000, `v${version} ready on both workers`);
    await stack.waitFor(async () => {
      const { models } = (await (await fetch(`${stack.baseUrl}/models`)).json()) as { models: Array<{ name: string; traffic?: { version: string; routing: boolean } }> };
      const traffic = models.find((m) => m.name === MODEL)?.traffic;
      return traffic?.version === version && traffic.routing;
    }, 10_000, `the API routing by the plan of v${version}`);
  };

  describe('on the shared Redis', () => {
    beforeEach(async () => {
      stack = new ServingStack();
      ref1 = refFor(v1, '1');
      ref2 = refFor(v2, '2');
      stack.registry.add(ref1, v1.bytes).add(ref2, v2.bytes).setAlias('champion', ref1);
      for (let i = 0; i < 2; i++) await (await stack.startWorker({ RECONCILE_INTERVAL_MS: '300', FLEET_CONTROLLER_INTERVAL_MS: '200' })).ready();
      await stack.waitForActive(ref1);
      await stack.startApi();
      await stack.waitForApiReady();
    });
    afterEach(() => stack.close());

    it('shadow 100%: the champion answers every request; the candidate runs each one after, counted per version and in agreement', async () => {
      await setPlan(plan({ mode: 'shadow', share: 1 }));
      await candidateReady('2');
      const outcomes = await startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4, total: 100 }).done;
      expect(byStatus(outcomes)).toEqual({ 200: 100 });
      expect(outcomes.every((o) => (o.body?.model as { version: string }).version === '1')).toBe(true);
      // The candidate's runs happen after the replies: wait for the last ones.
      await stack.waitFor(async () => (await metricSum(stack.workers, VERSION_METRICS.requests, { model: MODEL, version: '2', outcome: 'ok' })) === 100, 20_000, '100 shadow runs');
      expect(await metricSum(stack.workers, VERSION_METRICS.requests, { model: MODEL, version: '1', outcome: 'ok' })).toBe(100);
      expect(await metricSum(stack.workers, VERSION_METRICS.agreement, { model: MODEL, version: '2' })).toBe(100);
      expect(await metricSum(stack.workers, VERSION_METRICS.predictions, { model: MODEL, version: '2' })).toBe(100);
      expect(await metricSum(stack.workers, VERSION_METRICS.trafficShare, { model: MODEL, version: '2', mode: 'shadow' })).toBe(2); // 1.0 on each worker
    });

    it('canary 30%: about 30% of 600 requests are answered by the candidate, a key always sees one version, clearing brings all back to the champion', async () => {
      await setPlan(plan({ share: 0.3 }));
      await candidateReady('2');
      const outcomes = await startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 8, total: 600 }).done;
      expect(byStatus(outcomes)).toEqual({ 200: 600 });
      const byCandidate = outcomes.filter((o) => (o.body?.model as { version: string }).version === '2').length;
      // Each request goes to the candidate with p = 0.3: over 600 the share's standard deviation is 0.019, and
      // 0.075 is 4 of them (a correct router fails this about once in 15,000 runs; a share of 0.2 or 0.4 fails it).
      expect(Math.abs(byCandidate / 600 - 0.3)).toBeLessThanOrEqual(0.075);
      // Mirrored canary requests also ran on the champion: agreement is measured in canary steps too.
      await stack.waitFor(async () => (await metricSum(stack.workers, VERSION_METRICS.agreement, { model: MODEL, version: '2' })) > 0, 20_000, 'mirror agreement');
      expect(await metricSum(stack.workers, 'lifecycle_traffic_fallbacks_total', { model: MODEL })).toBe(0);

      for (const key of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']) {
        const versions = new Set<string>();
        for (let i = 0; i < 6; i++) versions.add(((await stack.predict(images[i]!, { 'X-Lifecycle-Key': key })).body.model as { version: string }).version);
        expect(versions.size).toBe(1);
      }

      await setPlan(null);
      await stack.waitFor(async () => (await stack.redis.hlen(stack.keys.traffic)) === 0, 10_000, 'the fleet traffic entry to go');
      await stack.waitFor(async () => (await Promise.all(['w1', 'w2'].map(candidateOf))).every((c) => c === undefined), 10_000, 'the candidate to be unloaded');
      expect(stack.workers.every((w) => w.server(MODEL)?.candidate.model === null)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      const after = await startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4, total: 60 }).done;
      expect(after.every((o) => o.status === 200 && (o.body?.model as { version: string }).version === '1')).toBe(true);
      expect(await metricSum(stack.workers, VERSION_METRICS.trafficShare, { model: MODEL })).toBe(0);
    });

    it('a candidate whose file does not match its sha256 is refused with a structured code; the champion answers everything', async () => {
      // The stack's own controller (it downloads without verifying) writes the traffic entry; the workers refuse the file.
      await stack.close();
      stack = new ServingStack();
      const tampered: ModelRef = { ...refFor(v2, '3'), artifactUri: 'test-artifacts:/3/tampered.onnx' };
      stack.registry.add(ref1, v1.bytes).add(tampered, v1.bytes).setAlias('champion', ref1);
      await stack.setActive(ref1, v1.bytes);
      for (let i = 0; i < 2; i++) await (await stack.startWorker({ RECONCILE_INTERVAL_MS: '300', FLEET_CONTROLLER_INTERVAL_MS: '200' })).ready();
      await stack.startApi();
      await stack.waitForApiReady();
      await setPlan(plan({ version: '3', share: 1 }));
      for (const id of ['w1', 'w2']) {
        const candidate = await stack.waitFor(async () => {
          const c = await candidateOf(id);
          return c?.state === 'failed' ? c : null;
        }, 15_000, `${id} to refuse the candidate`);
        expect(candidate).toMatchObject({ version: '3', state: 'failed', error: { code: 'MODEL_CHECKSUM_MISMATCH' } });
      }
      const outcomes = await startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4, total: 40 }).done;
      expect(outcomes.every((o) => o.status === 200 && (o.body?.model as { version: string }).version === '1')).toBe(true);
    });
  });

  describe('Redis restarted empty during a canary', () => {
    let redis: OwnRedis;

    beforeAll(async () => {
      redis = await OwnRedis.start();
    });
    afterAll(() => redis.kill());
    afterEach(() => stack.close().catch(() => undefined));

    it('rebuilds the traffic from the registry within seconds and leaves no request unanswered', async () => {
      stack = new ServingStack(undefined, redis.url);
      ref1 = refFor(v1, '1');
      ref2 = refFor(v2, '2');
      stack.registry.add(ref1, v1.bytes).add(ref2, v2.bytes).setAlias('champion', ref1);
      for (let i = 0; i < 2; i++) await (await stack.startWorker({ RECONCILE_INTERVAL_MS: '300', FLEET_CONTROLLER_INTERVAL_MS: '200' })).ready();
      await stack.startApi({ REQUEST_TIMEOUT_MS: '10000' });
      await stack.waitForApiReady();
      await setPlan(plan({ share: 0.5 }));
      await candidateReady('2');

      const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 8, timeoutMs: 12_000 });
      await stack.waitFor(() => load.outcomes.filter((o) => o.status === 200).length >= 50, 30_000, 'traffic before the outage');
      await redis.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await redis.restart();
      const restartedAt = Date.now();
      await stack.waitFor(() => stack.redis.hget(stack.keys.traffic, MODEL), 10_000, 'the traffic entry rebuilt');
      const rebuiltInMs = Date.now() - restartedAt;
      const sent = load.outcomes.length;
      await stack.waitFor(() => load.outcomes.slice(sent).filter((o) => (o.body?.model as { version?: string } | undefined)?.version === '2').length >= 20, 20_000, 'the candidate answering again');
      const outcomes = await load.stop();

      expect(rebuiltInMs).toBeLessThan(5000);
      // Every request got an answer: 200, or 503 with Retry-After while Redis was down; none hung or failed otherwise.
      expect(Object.keys(byStatus(outcomes)).map(Number).every((s) => s === 200 || s === 503)).toBe(true);
      expect(outcomes.filter((o) => o.status === 503).every((o) => o.retryAfter !== null)).toBe(true);
      const answered = outcomes.filter((o) => o.status === 200);
      const share = answered.filter((o) => (o.body?.model as { version: string }).version === '2').length / answered.length;
      expect(share).toBeGreaterThan(0.3);
      expect(share).toBeLessThan(0.7);
      expect(await stack.redis.hget(stack.keys.active, MODEL)).toContain('"version":"1"');
    });
  });
});
