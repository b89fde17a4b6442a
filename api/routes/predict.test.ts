import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { createLogger } from '../../lib/logger';
import { DeadlineExceededError, InferenceFailedError, QueueFullError } from '../../lib/queue/errors';
import type { InferInput, InferenceResult } from '../../lib/queue/inference-client';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel } from '../../tests/support/metadata';
import { buildApp } from '../app';
import type { ActiveModel } from '../../lib/fleet/protocol';

const result: InferenceResult = {
  model: { name: 'fashion-mnist-classifier', version: '3' },
  predictions: [
    { label: 'Bag', probability: 0.7 },
    { label: 'Coat', probability: 0.1 },
    { label: 'Shirt', probability: 0.1 },
    { label: 'Dress', probability: 0.05 },
    { label: 'Sandal', probability: 0.05 },
  ],
};

/** A queue that answers with `outcome` and records what it was given. */
function fakeQueue(outcome: () => Promise<InferenceResult>) {
  const calls: InferInput[] = [];
  return {
    calls,
    infer: (input: InferInput) => {
      calls.push(input);
      return outcome();
    },
    queueDepth: () => Promise.resolve(3),
  };
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function appWith(queue: ReturnType<typeof fakeQueue>, active: ActiveModel | null = testActiveModel(), rateLimitPerMinute = 0): Promise<FastifyInstance> {
  const app = await buildApp({
    config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, RATE_LIMIT_PER_MINUTE: rateLimitPerMinute },
    inference: queue,
    activeModel: { current: () => active },
    readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return app;
}

async function post(app: FastifyInstance, file: Buffer, opts: { field?: string; headers?: Record<string, string> } = {}) {
  const { payload, headers } = await multipartBody(file, { field: opts.field });
  return app.inject({ method: 'POST', url: '/predict', payload, headers: { ...headers, ...opts.headers } });
}

describe('POST /predict', () => {
  it('answers 200 with the request id, the served model and the top-5 predictions', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue);
    const res = await post(app, await testImage(1), { headers: { 'x-request-id': 'client-42' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ request_id: 'client-42', model: result.model, predictions: result.predictions });
    expect(res.headers['x-request-id']).toBe('client-42');
    expect(queue.calls[0]).toMatchObject({ requestId: 'client-42', model: 'fashion-mnist-classifier', dims: [1, 1, 28, 28] });
    expect(queue.calls[0]!.tensor).toHaveLength(784);
    expect(queue.calls[0]!.deadline).toBeGreaterThan(Date.now() + 4000);
  });

  it('answers 400 NOT_MULTIPART to a JSON body', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await app.inject({ method: 'POST', url: '/predict', payload: { img_file: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code: 'NOT_MULTIPART', error: 'Bad Request' });
    expect(Object.keys(res.json()).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  });

  it('answers 400 NOT_MULTIPART to a raw binary body', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await app.inject({ method: 'POST', url: '/predict', payload: await testImage(1), headers: { 'content-type': 'image/png' } });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('NOT_MULTIPART');
  });

  it('answers 400 MISSING_IMAGE when the file is in another field', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await post(app, await testImage(1), { field: 'image' });
    expect(res.statusCode).toBe(400);
    expect(res.json<{ code: string }>().code).toBe('MISSING_IMAGE');
  });

  it('answers 413 PAYLOAD_TOO_LARGE above MAX_UPLOAD_BYTES', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await post(app, Buffer.alloc(300_000, 1));
    expect(res.statusCode).toBe(413);
    expect(res.json<{ code: string }>().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 415 UNSUPPORTED_IMAGE to a file that is not an image', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await post(app, Buffer.from('%PDF-1.4 not an image'));
    expect(res.statusCode).toBe(415);
    expect(res.json<{ code: string }>().code).toBe('UNSUPPORTED_IMAGE');
  });

  it('answers 422 IMAGE_TOO_LARGE to an image with too many pixels', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const big = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#000' } }).png({ compressionLevel: 9 }).toBuffer();
    const res = await post(app, big);
    expect(res.statusCode).toBe(422);
    expect(res.json<{ code: string }>().code).toBe('IMAGE_TOO_LARGE');
  });

  it('answers 422 IMAGE_CORRUPT to a truncated image', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const png = await testImage(1, 'png', { width: 200, height: 200 });
    const res = await post(app, png.subarray(0, png.length >> 1));
    expect(res.statusCode).toBe(422);
    expect(res.json<{ code: string }>().code).toBe('IMAGE_CORRUPT');
  });

  it('answers 503 QUEUE_FULL with Retry-After when the queue is full', async () => {
    const app = await appWith(fakeQueue(() => Promise.reject(new QueueFullError(100, 2))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json<{ code: string }>().code).toBe('QUEUE_FULL');
  });

  it('answers 503 NO_ACTIVE_MODEL with Retry-After before any model is served', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue, null);
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json<{ code: string }>().code).toBe('NO_ACTIVE_MODEL');
    expect(queue.calls).toHaveLength(0);
  });

  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, and leaves health checks alone', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)), testActiveModel(), 2);
    const image = await testImage(1);
    expect((await post(app, image)).statusCode).toBe(200);
    expect((await post(app, image)).statusCode).toBe(200);
    const res = await post(app, image);
    expect(res.statusCode).toBe(429);
    expect(res.json()).toMatchObject({ statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers 504 DEADLINE_EXCEEDED when no worker answers in time', async () => {
    const app = await appWith(fakeQueue(() => Promise.reject(new DeadlineExceededError(5000))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(504);
    expect(res.json<{ code: string }>().code).toBe('DEADLINE_EXCEEDED');
  });

  it('answers 500 INFERENCE_FAILED when the worker reports a failed run', async () => {
    const app = await appWith(fakeQueue(() => Promise.reject(new InferenceFailedError('INFERENCE_FAILED', 'boom'))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ statusCode: 500, code: 'INFERENCE_FAILED', error: 'Internal Server Error' });
  });

  it('hides unexpected errors behind 500 INTERNAL_ERROR', async () => {
    const app = await appWith(fakeQueue(() => Promise.reject(new Error('secret detail'))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(500);
    expect(res.json()).toMatchObject({ code: 'INTERNAL_ERROR' });
    expect(res.body).not.toContain('secret');
  });

  it('replaces a malformed x-request-id with a generated one', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await post(app, await testImage(1), { headers: { 'x-request-id': 'bad id with spaces and <html>' } });
    expect(res.json<{ request_id: string }>().request_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('counts predictions by model version and outcome', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    await post(app, await testImage(1));
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('lifecycle_predictions_total{model_version="3",status="ok"} 1');
    expect(metrics.body).toContain('lifecycle_inference_queue_depth 3');
    expect(metrics.body).toMatch(/lifecycle_http_request_duration_seconds_count\{method="POST",route="\/predict",status_code="200"\} 1/);
  });
});
