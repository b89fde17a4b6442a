import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { INFERENCE_GROUP, queueKeys } from '../../lib/queue/keys';
import { fleetKeys } from '../../lib/fleet/protocol';
import { MlflowClient } from '../../lib/mlflow/client';
import { HostNetwork, netnsUnavailable } from '../../drills/host-network';
import { startProcessWith, type RunningProcess } from '../support/child-process';
import { testImage } from '../support/images';
import { byStatus, startLoad, type Outcome } from '../support/load';
import { makeTestModel, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, ROOT, uniqueId } from './support/env';

jest.setTimeout(240_000);

const REQUEST_TIMEOUT_MS = 8000;
const unavailable = netnsUnavailable();
if (unavailable) console.warn(`multi-host tests not run: ${unavailable}`);
const describeHosts = unavailable ? describe.skip : describe;

const node = (entry: string) => [process.execPath, '--import', 'tsx', join(ROOT, entry)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** The sum of a counter's samples in a Prometheus text exposition. */
async function counter(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * Redis, the API and two inference workers as separate hosts (network
 * namespaces linked by a bridge, made and removed by this test), so faults
 * cross a real network: packets dropped on a link that went down, routes that
 * lead nowhere, a host whose Redis died. Load comes from the test's own
 * namespace through the bridge; the model comes from the test MLflow through
 * a forwarder on the bridge.
 */
describeHosts('several hosts: partitions between the serving processes and Redis', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('hosts');
  const prefix = `${modelName}:`;
  let net: HostNetwork;
  let dir: string;
  let model: TestModel;
  let images: Buffer[];
  let redis: RunningProcess;
  let api: RunningProcess;
  const workers = new Map<string, RunningProcess>();
  let apiUrl: string;
  let redisUrl: string;
  let mlflowUrl: string;

  const startRedis = () => {
    const host = net.host('redis');
    redis = startProcessWith(net.exec('redis', ['redis-server', '--bind', host.ip, '--port', '6379', '--save', '', '--appendonly', 'no', '--protected-mode', 'no']), {});
    return until('Redis on its host', async () => {
      const probe = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } finally {
        probe.disconnect();
      }
    }, 10_000);
  };

  const startWorker = (name: string) => {
    const host = net.host(name);
    const proc = startProcessWith(net.exec(name, node('workers/inference-worker.ts')), {
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      MLFLOW_TRACKING_URI: mlflowUrl,
      MODEL_NAME: modelName,
      SERVED_MODELS: modelName,
      WORKER_ID: name,
      METRICS_HOST: host.ip,
      METRICS_PORT: '9101',
      MODEL_CACHE_DIR: join(dir, `cache-${name}`),
    });
    workers.set(name, proc);
    return proc;
  };
  const workerMetrics = (name: string) => `http://${net.host(name).ip}:9101/metrics`;
  const processed = (name: string) => counter(workerMetrics(name), 'lifecycle_inference_requests_processed_total');
  const load = (concurrency: number) => startLoad({ url: () => `${apiUrl}/predict`, images, concurrency, timeoutMs: REQUEST_TIMEOUT_MS + 5000 });
  /** Stops a worker (SIGSTOP) until its consumer holds delivered, unanswered entries; returns how many. */
  const holdEntries = async (redis: RedisClient, worker: ChildProcess, consumer: string): Promise<number> => {
    const stream = queueKeys(prefix).requests(modelName);
    for (let attempt = 0; attempt < 50; attempt++) {
      worker.kill('SIGSTOP');
      await sleep(50); // a read it had blocked in is still served by Redis while it is stopped
      const pending = await redis.xpending(stream, INFERENCE_GROUP, '-', '+', 100, consumer);
      if (pending.length > 0) return pending.length;
      worker.kill('SIGCONT');
      await sleep(20);
    }
    throw new Error(`${consumer} never held an entry`);
  };
  const failures = (outcomes: Outcome[]) => outcomes.filter((o) => o.status !== 200).map((o) => ({ status: o.status, error: o.error, body: o.body }));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multi-host-'));
    model = makeTestModel(dir, { seed: 3 });
    images = await Promise.all(Array.from({ length: 16 }, (_, i) => testImage(i)));
    await registerTestModel(mlflow, modelName, model, 'champion');
    net = HostNetwork.create(['redis', 'api', 'w1', 'w2']);
    redisUrl = `redis://${net.host('redis').ip}:6379`;
    mlflowUrl = `http://${net.serviceIp}:${await net.forward(Number(new URL(MLFLOW_TRACKING_URI).port || 80))}`;
    await startRedis();
    await Promise.all(['w1', 'w2'].map((w) => startWorker(w).waitForOutput('model swapped in', 90_000)));
    api = startProcessWith(net.exec('api', node('api/server.ts')), {
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      MODEL_NAME: modelName,
      HOST: net.host('api').ip,
      PORT: '8000',
      REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    });
    apiUrl = `http://${net.host('api').ip}:8000`;
    await until('the API to be ready', async () => (await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200, 60_000);
  });

  afterAll(() => {
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a worker host cut off from Redis under load loses no request, and serves again once healed without a restart', async () => {
    const traffic = load(16);
    await until('200 answers', () => traffic.outcomes.length >= 200, 30_000);
    const reclaimedBefore = await counter(workerMetrics('w2'), 'lifecycle_inference_requests_reclaimed_total');
    const status = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    const w1 = workers.get('w1')!.child;
    // The cut must catch w1 holding entries it has read and not answered (a cut that lands while w1 idles
    // leaves nothing to reclaim): freeze it until Redis has delivered it some, cut, then let it run on.
    const held = await holdEntries(status, w1, 'w1');
    net.cut('w1');
    w1.kill('SIGCONT');
    const cutAt = traffic.outcomes.length;
    // w1's liveness key expires (it cannot renew it), and w2 takes over the entries w1 held when the link went down.
    try {
      await until("w1's liveness to expire", async () => (await status.exists(fleetKeys(prefix).workerStatus('w1'))) === 0, 30_000);
    } finally {
      status.disconnect();
    }
    await until('200 more answers while w1 is cut off', () => traffic.outcomes.length >= cutAt + 200, 60_000);
    const reclaimed = async () => (await counter(workerMetrics('w2'), 'lifecycle_inference_requests_reclaimed_total')) - reclaimedBefore;
    // Before the heal: after it, w1's retransmitted replies could answer what it held.
    await until(`w2 to take over the ${held} entries w1 held`, async () => (await reclaimed()) >= held, 30_000);
    net.heal('w1');
    const before = await processed('w1');
    await until('w1 to answer requests again', async () => (await processed('w1')) > before, 60_000);
    const outcomes = await traffic.stop();

    expect(failures(outcomes)).toEqual([]);
    expect(workers.get('w1')!.child.exitCode).toBeNull();
  });

  it('the API cut off from Redis answers 503 with Retry-After before its deadline, and recovers when the route is back', async () => {
    net.partition('api', 'redis');
    const started = Date.now();
    let ready: Response;
    let during: Array<{ status: number; retryAfter: string | null; ms: number }>;
    try {
      during = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      const form = new FormData();
      form.append('img_file', new Blob([new Uint8Array(images[i]!)], { type: 'image/png' }), 'x.png');
      const t0 = Date.now();
      const res = await fetch(`${apiUrl}/predict`, { method: 'POST', body: form, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS + 5000) });
      return { status: res.status, retryAfter: res.headers.get('retry-after'), ms: Date.now() - t0 };
    }));
      ready = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } finally {
      net.unpartition('api', 'redis');
    }

    for (const r of during) {
      expect(r.status).toBe(503);
      expect(r.retryAfter).not.toBeNull();
      expect(r.ms).toBeLessThan(REQUEST_TIMEOUT_MS + 1000);
    }
    expect(ready.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2 * REQUEST_TIMEOUT_MS);

    await until('the API to be ready again', async () => (await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200, 30_000);
    const after = load(4);
    await until('50 answers after recovery', () => after.outcomes.length >= 50, 30_000);
    expect(failures(await after.stop())).toEqual([]);
    expect(api.child.exitCode).toBeNull();
  });

  it("Redis's host stopped: every request is answered (503 or 504, never a hang), and service resumes on a new, empty Redis", async () => {
    const traffic = load(8);
    await until('100 answers', () => traffic.outcomes.length >= 100, 30_000);
    const cutoff = traffic.outcomes.length;
    redis.child.kill('SIGKILL');
    await redis.exited;
    await sleep(3000);
    await startRedis();
    // The fleet state is rebuilt from the registry by the workers' controller; the API follows.
    await until('the API to be ready on the new Redis', async () => (await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(1000) })).status === 200, 30_000);
    const resumedAt = traffic.outcomes.length;
    await until('100 answers on the new Redis', () => traffic.outcomes.length >= resumedAt + 100, 30_000);
    const outcomes = await traffic.stop();

    const counts = byStatus(outcomes.slice(cutoff));
    // Nothing hung (every client got an HTTP answer) and nothing failed with a server error.
    expect(Object.keys(counts).filter((s) => !['200', '503', '504'].includes(s))).toEqual([]);
    for (const o of outcomes.filter((x) => x.status === 503)) expect(o.retryAfter).not.toBeNull();
    expect(failures(outcomes.slice(resumedAt + 20))).toEqual([]);
  });
});
