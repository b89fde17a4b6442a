import { testImage } from '../support/images';
import { histogramStats, metricTotal } from '../support/metrics';
import { useServingStack, type ServingStack } from '../support/serving-stack';

jest.setTimeout(30_000);

describe('serving: prediction round trip (API + Redis + onnxruntime worker)', () => {
  const fixture = useServingStack('serving-predict');
  let stack: ServingStack;
  beforeEach(() => (stack = fixture.stack));

  it('answers POST /predict with the top-5 of the served model version', async () => {
    await stack.startApi();
    await (await stack.startWorker()).ready();
    const res = await stack.predict(await testImage(4), { 'x-request-id': 'round-trip-1' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ request_id: 'round-trip-1', model: { name: 'test-classifier', version: '1' } });
    const predictions = res.body.predictions as Array<{ label: string; probability: number }>;
    expect(predictions).toHaveLength(5);
    const probs = predictions.map((p) => p.probability);
    expect([...probs].sort((a, b) => b - a)).toEqual(probs);
    expect(probs.every((p) => p > 0 && p < 1)).toBe(true);
    // The API's requests stream holds nothing once answered (acked and deleted).
    expect(await stack.redis.xlen(stack.requestsKey())).toBe(0);
  });

  it('reports ready with the served model once a worker serves it', async () => {
    await stack.startApi();
    const before = await fetch(`${stack.baseUrl}/readyz`);
    expect(before.status).toBe(503);
    expect(await before.json()).toMatchObject({ status: 'not_ready', model: { version: '1' }, workers: 0 });
    await (await stack.startWorker()).ready();
    const after = await stack.waitFor(async () => {
      const r = await fetch(`${stack.baseUrl}/readyz`);
      return r.status === 200 ? ((await r.json()) as Record<string, unknown>) : null;
    });
    expect(after).toMatchObject({ status: 'ready', model: { name: 'test-classifier', version: '1' }, workers: 1 });
    expect(typeof after.instance).toBe('string');
  });

  it('batches concurrent requests dynamically', async () => {
    await stack.startApi();
    const worker = await stack.startWorker({ MAX_BATCH_SIZE: '8', MAX_BATCH_WAIT_MS: '50' });
    await worker.ready();
    const images = await Promise.all(Array.from({ length: 16 }, (_, i) => testImage(i)));
    const results = await Promise.all(images.map((img) => stack.predict(img)));
    expect(results.map((r) => r.status)).toEqual(new Array(16).fill(200));
    const batches = await histogramStats(worker.registry, 'lifecycle_inference_batch_size');
    expect(batches.sum).toBe(16);
    // 16 requests in fewer runs than requests: at least one batch held several of them.
    expect(batches.count).toBeLessThan(16);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(16);
  });

  it('spreads the load over two workers in one consumer group', async () => {
    await stack.startApi();
    const workers = [await stack.startWorker({ MAX_BATCH_WAIT_MS: '0' }), await stack.startWorker({ MAX_BATCH_WAIT_MS: '0' })];
    await Promise.all(workers.map((w) => w.ready()));
    const results = await Promise.all(Array.from({ length: 30 }, async (_, i) => stack.predict(await testImage(i))));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const processed = await Promise.all(workers.map((w) => metricTotal(w.registry, 'lifecycle_inference_requests_processed_total')));
    expect(processed[0]! + processed[1]!).toBe(30);
  });

  it('exposes API and worker metrics for Prometheus', async () => {
    await stack.startApi();
    const worker = await stack.startWorker();
    await worker.ready();
    await stack.predict(await testImage(1));
    const api = await (await fetch(`${stack.baseUrl}/metrics`)).text();
    expect(api).toContain('lifecycle_predictions_total{model="test-classifier",model_version="1",status="ok"} 1');
    expect(api).toContain('lifecycle_inference_queue_depth{model="test-classifier"} 0');
    const workerMetrics = await (await fetch(`http://127.0.0.1:${worker.metricsPort}/metrics`)).text();
    expect(workerMetrics).toContain('lifecycle_inference_model_info{name="test-classifier",version="1"} 1');
    expect(workerMetrics).toContain('lifecycle_inference_requests_processed_total{model="test-classifier"} 1');
    const health = await fetch(`http://127.0.0.1:${worker.metricsPort}/healthz`);
    expect(await health.json()).toMatchObject({ ok: true, status: { state: 'ready', models: { 'test-classifier': { version: '1', state: 'ready' } } } });
    const ready = await fetch(`http://127.0.0.1:${worker.metricsPort}/readyz`);
    expect(ready.status).toBe(200);
  });
});
