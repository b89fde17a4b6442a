import { controlledSessions, type SessionControl } from '../support/controlled-session';
import { testImage } from '../support/images';
import { metricTotal } from '../support/metrics';
import { OwnRedis } from '../support/redis-server';
import { ServingStack, useServingStack } from '../support/serving-stack';
import { makeTestModel, refFor } from '../support/test-model';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

jest.setTimeout(60_000);

const probe = async (port: number | null, path: '/healthz' | '/readyz') => {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: (await res.json()) as { ok: boolean; reason?: string } };
};

/** The inference worker's /healthz and /readyz say no when they should, and yes again once the fault is gone. */
describe('inference worker health that can fail', () => {
  const fixture = useServingStack('worker-health');

  it('is live but not ready before it has a verified model', async () => {
    fixture.stack.registry.deleteAlias('champion', 'test-classifier');
    await fixture.stack.waitFor(async () => (await fixture.stack.redis.hlen(fixture.stack.keys.active)) === 0, 5000, 'no active model');
    const worker = await fixture.stack.startWorker();
    expect((await probe(worker.metricsPort, '/healthz')).status).toBe(200);
    expect(await probe(worker.metricsPort, '/readyz')).toMatchObject({ status: 503, body: { ok: false, reason: 'no verified model loaded yet' } });
  });

  it('fails both probes when its batch loop is stuck, stops its heartbeat, and its requests go to a live worker', async () => {
    const { stack } = fixture;
    await stack.startApi();
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    const stuck = await stack.startWorker({ LOOP_STALL_MS: '1000' }, { createSession: controlledSessions(control) });
    await stuck.ready();
    expect((await probe(stuck.metricsPort, '/readyz')).status).toBe(200);
    control.hang = true; // the next batch never finishes, the process itself stays up
    const pending = stack.predict(await testImage(1));
    await stack.waitFor(async () => (await probe(stuck.metricsPort, '/healthz')).status === 503, 10_000, '/healthz to fail');
    expect(await probe(stuck.metricsPort, '/healthz')).toMatchObject({ body: { ok: false, reason: 'batch loop stuck: test-classifier' } });
    expect((await probe(stuck.metricsPort, '/readyz')).status).toBe(503);
    // No heartbeat while stuck: the status key expires and the fleet stops counting it.
    await stack.waitFor(async () => (await stack.workerStatus('w1')) === null, 5000, 'the stuck worker to drop out of the fleet');
    await stack.startWorker();
    const res = await pending;
    expect(res.status).toBe(200);
    await stuck.abort();
  });

  it('a worker restarted under the same WORKER_ID answers what its predecessor left pending (its name still looks alive)', async () => {
    const { stack } = fixture;
    await stack.startApi();
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    const doomed = await stack.startWorker({ WORKER_ID: 'same' }, { createSession: controlledSessions(control) });
    await doomed.ready();
    control.hang = true;
    const pending = stack.predict(await testImage(7));
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'the request in flight on the doomed worker');
    await doomed.abort(); // a crash: nothing answered, nothing acknowledged
    // A supervisor restarts it at once, under the same name, before its status key expires.
    const restarted = await stack.startWorker({ WORKER_ID: 'same' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await metricTotal(restarted.registry, 'lifecycle_inference_requests_recovered_total')).toBe(1);
  });

  it('is not ready while draining', async () => {
    const { stack } = fixture;
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    const worker = await stack.startWorker({}, { createSession: controlledSessions(control) });
    await worker.ready();
    await stack.startApi();
    control.delayMs = 800;
    const inFlight = stack.predict(await testImage(2));
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'a batch in flight');
    const stopping = worker.shutdown();
    await stack.waitFor(async () => (await probe(worker.metricsPort, '/readyz')).body.reason === 'draining', 700, 'readiness to say draining');
    expect((await inFlight).status).toBe(200);
    await stopping;
  });
});

describe('inference worker health during a Redis outage', () => {
  let redis: OwnRedis;
  let stack: ServingStack;
  let dir: string;
  beforeAll(async () => {
    redis = await OwnRedis.start();
    stack = new ServingStack(undefined, redis.url);
    dir = mkdtempSync(join(tmpdir(), 'worker-health-'));
  });
  afterAll(async () => {
    await stack.close().catch(() => undefined);
    await redis.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stays live but not ready while Redis is down, and is ready again without a restart', async () => {
    const model = makeTestModel(dir, { seed: 4 });
    const ref = refFor(model, '1');
    stack.registry.add(ref, model.bytes).setAlias('champion', ref);
    const worker = await stack.startWorker();
    await worker.ready();
    expect((await probe(worker.metricsPort, '/readyz')).status).toBe(200);
    await redis.kill();
    await stack.waitFor(async () => (await probe(worker.metricsPort, '/readyz')).status === 503, 5000, 'readiness to fail');
    expect((await probe(worker.metricsPort, '/readyz')).body.reason).toMatch(/^Redis /);
    // Liveness holds: restarting the worker would not bring Redis back.
    await new Promise((r) => setTimeout(r, 2500));
    expect((await probe(worker.metricsPort, '/healthz')).status).toBe(200);
    await redis.restart();
    await stack.waitFor(async () => (await probe(worker.metricsPort, '/readyz')).status === 200, 10_000, 'readiness to recover');
    // The fleet state it reports was rebuilt in the empty Redis.
    await stack.waitFor(async () => (await stack.workerStatus('w1'))?.models['test-classifier']?.state === 'ready', 5000, 'the status key to be back');
  });
});
