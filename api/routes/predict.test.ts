import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import { createLogger } from '../../lib/logger';
import { DeadlineExceededError, InferenceFailedError, QueueFullError, QueueUnavailableError } from '../../lib/queue/errors';
import { bagResult, fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel, testMetadata } from '../../tests/support/metadata';
import { buildApp } from '../app';
import type { ActiveModel } from '../../lib/fleet/protocol';

const result = bagResult;

const rgbModel: ActiveModel = {
  ...testActiveModel('2'),
  name: 'shoes',
  metadata: testMetadata({
    labels: ['boot', 'sandal', 'sneaker'],
    input: { name: 'input', layout: 'NCHW', channels: 3, height: 32, width: 32, colorspace: 'rgb', dtype: 'float32' },
    normalization: { scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
  }),
};

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function appWith(
  queue: ReturnType<typeof fakeQueue>,
  models: ActiveModel[] = [testActiveModel()],
  extra: { RATE_LIMIT_PER_MINUTE?: number; DECODE_IN?: 'auto' | 'api' | 'worker'; DECODE_IN_WORKER_MAX_BYTES?: number; MAX_BATCH_FILES?: number } = {},
): Promise<FastifyInstance> {
  const app = await buildApp({
    // Decoding in the API unless a test says otherwise: most tests here are about what the API itself does with an upload.
    config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, MODEL_NAME: 'fashion-mnist-classifier', DECODE_IN: 'api', ...extra },
    inference: queue,
    models: servedModels(...models),
    readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return app;
}

async function post(app: FastifyInstance, file: Buffer, opts: { field?: string; headers?: Record<string, string>; url?: string } = {}) {
  const { payload, headers } = await multipartBody(file, { field: opts.field });
  return app.inject({ method: 'POST', url: opts.url ?? '/predict', payload, headers: { ...headers, ...opts.headers } });
}

describe('POST /predict', () => {
  it('answers 200 with the request id, the served model and the top-5 predictions', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue);
    const res = await post(app, await testImage(1), { headers: { 'x-request-id': 'client-42' } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ request_id: 'client-42', model: result.model, predictions: result.predictions });
    expect(res.headers['x-request-id']).toBe('client-42');
    expect(queue.calls[0]).toMatchObject({ requestId: 'client-42', model: 'fashion-mnist-classifier', input: { kind: 'pixels', height: 28, width: 28, channels: 1 } });
    // Decoded once, sent as uint8 pixels at the model's input size; normalisation is the worker's job.
    const input = queue.calls[0]!.input;
    expect(input.kind === 'pixels' && input.pixels).toBeInstanceOf(Uint8Array);
    expect(input.kind === 'pixels' && input.pixels.length).toBe(784);
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
    const app = await appWith(fakeQueue(() => Promise.resolve(result), () => Promise.reject(new QueueFullError(100, 2))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json<{ code: string }>().code).toBe('QUEUE_FULL');
  });

  it('answers 503 NO_ACTIVE_MODEL with Retry-After before any model is served', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue, []);
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json<{ code: string }>().code).toBe('NO_ACTIVE_MODEL');
    expect(queue.calls).toHaveLength(0);
  });

  it('answers 429 RATE_LIMITED with Retry-After past RATE_LIMIT_PER_MINUTE, and leaves health checks alone', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)), [testActiveModel()], { RATE_LIMIT_PER_MINUTE: 2 });
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
    expect(metrics.body).toContain('lifecycle_predictions_total{model="fashion-mnist-classifier",model_version="3",status="ok"} 1');
    expect(metrics.body).toContain('lifecycle_inference_queue_depth{model="fashion-mnist-classifier"} 3');
    expect(metrics.body).toMatch(/lifecycle_http_request_duration_seconds_count\{method="POST",route="\/predict",status_code="200"\} 1/);
  });

  it('answers 503 QUEUE_UNAVAILABLE with Retry-After when Redis is unreachable (never 500)', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result), () => Promise.reject(new QueueUnavailableError(2, 'Connection is closed'))));
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    expect(res.json<{ code: string }>().code).toBe('QUEUE_UNAVAILABLE');
  });

  it('answers 413 TOO_MANY_FILES when /predict gets more than one image', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const form = new FormData();
    for (const i of [1, 2]) form.append('img_file', new Blob([new Uint8Array(await testImage(i))], { type: 'image/png' }), `${i}.png`);
    const response = new Response(form);
    const res = await app.inject({ method: 'POST', url: '/predict', payload: Buffer.from(await response.arrayBuffer()), headers: { 'content-type': response.headers.get('content-type')! } });
    expect(res.statusCode).toBe(413);
    expect(res.json<{ code: string }>().code).toBe('TOO_MANY_FILES');
  });

  it('with DECODE_IN=worker sends the upload itself, after refusing a non-image at once', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue, [testActiveModel()], { DECODE_IN: 'worker' });
    const png = await testImage(1);
    expect((await post(app, png)).statusCode).toBe(200);
    expect(queue.calls[0]!.input).toEqual({ kind: 'image', image: png });
    expect((await post(app, Buffer.from('GIF-ish but not'))).statusCode).toBe(415);
    expect(queue.calls).toHaveLength(1);
  });

  it('with DECODE_IN=auto sends small uploads as they are and decodes large ones to the model size', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue, [testActiveModel()], { DECODE_IN: 'auto', DECODE_IN_WORKER_MAX_BYTES: 10_000 });
    const small = await testImage(1);
    const large = await sharp({ create: { width: 120, height: 120, channels: 3, background: '#808080' } }).png({ compressionLevel: 0 }).toBuffer();
    expect(small.length).toBeLessThan(10_000);
    expect(large.length).toBeGreaterThan(10_000);
    expect((await post(app, small)).statusCode).toBe(200);
    expect((await post(app, large)).statusCode).toBe(200);
    expect(queue.calls.map((c) => c.input.kind)).toEqual(['image', 'pixels']);
    expect(queue.calls[1]!.input).toMatchObject({ height: 28, width: 28, channels: 1 });
  });

  it('maps an image error reported by the worker (DECODE_IN=worker) to its status', async () => {
    const app = await appWith(fakeQueue(() => Promise.reject(new InferenceFailedError('IMAGE_CORRUPT', 'truncated'))), [testActiveModel()], { DECODE_IN: 'worker' });
    const res = await post(app, await testImage(1));
    expect(res.statusCode).toBe(422);
    expect(res.json<{ code: string }>().code).toBe('IMAGE_CORRUPT');
  });
});

describe('POST /models/{name}/predict', () => {
  it('decodes to the named model\'s own input geometry and queues it on that model', async () => {
    const queue = fakeQueue((item) => Promise.resolve({ model: { name: item.model, version: '2' }, predictions: [{ label: 'boot', probability: 1 }] }));
    const app = await appWith(queue, [testActiveModel(), rgbModel]);
    const res = await post(app, await testImage(1), { url: '/models/shoes/predict' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ model: { name: 'shoes', version: '2' } });
    expect(queue.calls[0]).toMatchObject({ model: 'shoes', input: { kind: 'pixels', height: 32, width: 32, channels: 3 } });
  });

  it('answers 404 MODEL_NOT_FOUND for a model that is not served', async () => {
    const queue = fakeQueue(() => Promise.resolve(result));
    const app = await appWith(queue);
    const res = await post(app, await testImage(1), { url: '/models/nope/predict' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'MODEL_NOT_FOUND', error: 'Not Found' });
    expect(queue.calls).toHaveLength(0);
  });
});

describe('POST /predict/batch', () => {
  async function postMany(app: FastifyInstance, files: Array<{ bytes: Buffer; name: string }>, url = '/predict/batch') {
    const form = new FormData();
    for (const f of files) form.append('img_file', new Blob([new Uint8Array(f.bytes)], { type: 'image/png' }), f.name);
    const response = new Response(form);
    return app.inject({ method: 'POST', url, payload: Buffer.from(await response.arrayBuffer()), headers: { 'content-type': response.headers.get('content-type')! } });
  }

  it('answers one result per image in upload order, with a per-image error that does not fail the others', async () => {
    let i = 0;
    const queue = fakeQueue(() => Promise.resolve({ ...result, predictions: [{ label: `answer-${i++}`, probability: 1 }] }));
    const app = await appWith(queue);
    const res = await postMany(app, [
      { bytes: await testImage(1), name: 'a.png' },
      { bytes: Buffer.from('nope'), name: 'b.txt' },
      { bytes: await testImage(2), name: 'c.png' },
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ results: Array<Record<string, unknown>> }>();
    expect(body.results).toEqual([
      { index: 0, filename: 'a.png', model: result.model, predictions: [{ label: 'answer-0', probability: 1 }] },
      { index: 1, filename: 'b.txt', error: expect.objectContaining({ statusCode: 415, code: 'UNSUPPORTED_IMAGE', error: 'Unsupported Media Type' }) as unknown },
      { index: 2, filename: 'c.png', model: result.model, predictions: [{ label: 'answer-1', probability: 1 }] },
    ]);
    expect(queue.calls.map((c) => c.requestId)).toEqual([`${res.headers['x-request-id'] as string}#0`, `${res.headers['x-request-id'] as string}#2`]);
  });

  it('reports a deadline per image', async () => {
    let n = 0;
    const queue = fakeQueue(() => (n++ === 0 ? Promise.resolve(result) : Promise.reject(new DeadlineExceededError(5000))));
    const app = await appWith(queue);
    const res = await postMany(app, [{ bytes: await testImage(1), name: 'a.png' }, { bytes: await testImage(2), name: 'b.png' }]);
    const results = res.json<{ results: Array<{ error?: { code: string } }> }>().results;
    expect(results.map((r) => r.error?.code ?? 'ok')).toEqual(['ok', 'DEADLINE_EXCEEDED']);
  });

  it('takes a single image too', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await postMany(app, [{ bytes: await testImage(1), name: 'only.png' }]);
    expect(res.json<{ results: unknown[] }>().results).toHaveLength(1);
  });

  it('answers 413 TOO_MANY_FILES above MAX_BATCH_FILES', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)), [testActiveModel()], { MAX_BATCH_FILES: 2 });
    const image = await testImage(1);
    const res = await postMany(app, [1, 2, 3].map((i) => ({ bytes: image, name: `${i}.png` })));
    expect(res.statusCode).toBe(413);
    expect(res.json<{ code: string }>().code).toBe('TOO_MANY_FILES');
  });

  it('answers 503 QUEUE_FULL for the whole batch when the queue has no room for it', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result), () => Promise.reject(new QueueFullError(999, 2))));
    const res = await postMany(app, [{ bytes: await testImage(1), name: 'a.png' }]);
    expect(res.statusCode).toBe(503);
    expect(res.json<{ code: string }>().code).toBe('QUEUE_FULL');
  });

  it('serves a named model too', async () => {
    const queue = fakeQueue((item) => Promise.resolve({ model: { name: item.model, version: '2' }, predictions: [] }));
    const app = await appWith(queue, [testActiveModel(), rgbModel]);
    const res = await postMany(app, [{ bytes: await testImage(1), name: 'a.png' }], '/models/shoes/predict/batch');
    expect(res.json()).toMatchObject({ results: [{ index: 0, model: { name: 'shoes', version: '2' } }] });
  });
});
