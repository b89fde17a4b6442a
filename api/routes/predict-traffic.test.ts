import type { FastifyInstance } from 'fastify';
import type { ActiveModel, TrafficState, WorkerStatus } from '../../lib/fleet/protocol';
import { createLogger } from '../../lib/logger';
import type { InferItem } from '../../lib/queue/inference-client';
import { fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel, testMetadata } from '../../tests/support/metadata';
import { buildApp } from '../app';

const champion = testActiveModel('3');
/** A candidate with another input geometry: a canary request must be prepared for it, not for the champion. */
const candidate: ActiveModel = {
  ...testActiveModel('4'),
  metadata: testMetadata({ input: { name: 'input', layout: 'NCHW', channels: 3, height: 32, width: 32, colorspace: 'rgb', dtype: 'float32' } }),
};
const plan = (overrides: Partial<TrafficState>): TrafficState => ({ version: '4', mode: 'canary', share: 1, mirrorShare: 0, deploymentId: 'd-1', setAt: 1, candidate, ...overrides });

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function appWith(traffic: TrafficState | null, workers: WorkerStatus[] = []) {
  const queue = fakeQueue((item: InferItem) => Promise.resolve({ model: { name: item.model, version: item.variant?.startsWith('canary') ? '4' : '3' }, predictions: [{ label: 'Bag', probability: 1 }] }));
  const app = await buildApp({
    config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, MODEL_NAME: champion.name, DECODE_IN: 'api' },
    inference: queue,
    models: servedModels(champion),
    traffic: { get: (name) => (name === champion.name ? traffic : null), plan: (name) => (name === champion.name && traffic ? { state: traffic, routing: true } : null) },
    workers: () => Promise.resolve(workers),
    readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return { app, queue };
}

async function post(app: FastifyInstance, file: Buffer, headers: Record<string, string> = {}, url = '/predict') {
  const body = await multipartBody(file);
  return app.inject({ method: 'POST', url, payload: body.payload, headers: { ...body.headers, ...headers } });
}

describe('POST /predict under a traffic plan', () => {
  it('without a plan the request carries no variant', async () => {
    const { app, queue } = await appWith(null);
    expect((await post(app, await testImage(1))).statusCode).toBe(200);
    expect(queue.calls[0]).not.toHaveProperty('variant');
  });

  it('canary: a request routed to the candidate is prepared for the candidate and names it; the reply says which version answered', async () => {
    const { app, queue } = await appWith(plan({}));
    const res = await post(app, await testImage(1));
    expect(res.json()).toMatchObject({ model: { version: '4' } });
    expect(queue.calls[0]).toMatchObject({ variant: 'canary', candidateVersion: '4', input: { kind: 'pixels', height: 32, width: 32, channels: 3 } });
  });

  it('shadow: the request is prepared for the champion and flagged for the candidate', async () => {
    const { app, queue } = await appWith(plan({ mode: 'shadow' }));
    const res = await post(app, await testImage(1));
    expect(res.json()).toMatchObject({ model: { version: '3' } });
    expect(queue.calls[0]).toMatchObject({ variant: 'shadow', candidateVersion: '4', input: { kind: 'pixels', height: 28, width: 28, channels: 1 } });
  });

  it('batch with X-Lifecycle-Key: every image of one key goes the same way', async () => {
    const { app, queue } = await appWith(plan({ share: 0.5 }));
    const form = new FormData();
    for (let i = 0; i < 6; i++) form.append('img_file', new Blob([new Uint8Array(await testImage(i))], { type: 'image/png' }), `${i}.png`);
    const response = new Response(form);
    const payload = Buffer.from(await response.arrayBuffer());
    for (const key of ['k1', 'k2', 'k3', 'k4']) {
      queue.calls.length = 0;
      const res = await app.inject({ method: 'POST', url: '/predict/batch', payload, headers: { 'content-type': response.headers.get('content-type') ?? '', 'x-lifecycle-key': key } });
      expect(res.statusCode).toBe(200);
      expect(new Set(queue.calls.map((c) => c.variant ?? 'champion')).size).toBe(1);
    }
  });
});

describe('GET /models under a traffic plan', () => {
  it('shows the plan and each worker\'s candidate', async () => {
    const worker: WorkerStatus = {
      workerId: 'w1',
      state: 'ready',
      models: { [champion.name]: { version: '3', sha256: 'a'.repeat(64), state: 'ready', candidate: { version: '4', state: 'failed', error: { code: 'GOLDEN_CHECK_FAILED', message: 'x' } } } },
      updatedAt: 0,
    };
    const { app } = await appWith(plan({ share: 0.2, setAt: Date.UTC(2026, 0, 1) }), [worker]);
    const res = await app.inject({ method: 'GET', url: '/models' });
    expect(res.json()).toMatchObject({
      models: [{ name: champion.name, traffic: { version: '4', mode: 'canary', share: 0.2, routing: true, since: '2026-01-01T00:00:00.000Z' }, workers: [{ worker: 'w1', candidate: { version: '4', state: 'failed', error: 'GOLDEN_CHECK_FAILED' } }] }],
    });
  });
});
