import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../lib/logger';
import { DeadlineExceededError, QueueFullError } from '../../lib/queue/errors';
import type { InferenceResult } from '../../lib/queue/inference-client';
import { fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel } from '../../tests/support/metadata';
import { buildApp } from '../app';
import { formatBytes } from '../errors';

/**
 * Every limit a client can run into says what the limit is and which variable sets it (issue 17):
 * the upload size, the images per batch, the queue backlog and the request deadline. The limits here
 * are deliberately not the defaults, so a message that printed a constant would fail.
 */
const result: InferenceResult = { model: { name: 'fashion-mnist-classifier', version: '3' }, predictions: [{ label: 'Bag', probability: 1 }] };
const config = {
  MAX_UPLOAD_BYTES: 2 * 1024 * 1024,
  MAX_IMAGE_PIXELS: 1_000_000,
  REQUEST_TIMEOUT_MS: 4321,
  RETRY_AFTER_SECONDS: 2,
  MODEL_NAME: 'fashion-mnist-classifier',
  DECODE_IN: 'api' as const,
  MAX_BATCH_FILES: 3,
  MAX_QUEUE_LENGTH: 77,
};
type Body = { statusCode: number; code: string; error: string; message: string };

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function appWith(queue: ReturnType<typeof fakeQueue>): Promise<FastifyInstance> {
  const app = await buildApp({
    config,
    inference: queue,
    models: servedModels(testActiveModel()),
    readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return app;
}

async function postOne(app: FastifyInstance, file: Buffer) {
  const { payload, headers } = await multipartBody(file);
  return app.inject({ method: 'POST', url: '/predict', payload, headers });
}

async function postMany(app: FastifyInstance, count: number, url = '/predict/batch') {
  const form = new FormData();
  const image = new Uint8Array(await testImage(1));
  for (let i = 0; i < count; i++) form.append('img_file', new Blob([image], { type: 'image/png' }), `${i}.png`);
  const response = new Response(form);
  return app.inject({ method: 'POST', url, payload: Buffer.from(await response.arrayBuffer()), headers: { 'content-type': response.headers.get('content-type')! } });
}

/** Fastify's error shape, nothing more. */
function expectShape(body: Body, statusCode: number, code: string): void {
  expect(Object.keys(body).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  expect(body).toMatchObject({ statusCode, code });
}

describe('limit errors name the limit and the variable that sets it', () => {
  it('413 PAYLOAD_TOO_LARGE names MAX_UPLOAD_BYTES and its value', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await postOne(app, Buffer.alloc(config.MAX_UPLOAD_BYTES + 1000, 1));
    expect(res.statusCode).toBe(413);
    const body = res.json<Body>();
    expectShape(body, 413, 'PAYLOAD_TOO_LARGE');
    expect(body.message).toBe('The uploaded file is larger than the limit of 2 MiB (2097152 bytes) set by MAX_UPLOAD_BYTES');
  });

  it('413 TOO_MANY_FILES on /predict/batch names MAX_BATCH_FILES and its value', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await postMany(app, config.MAX_BATCH_FILES + 1);
    expect(res.statusCode).toBe(413);
    const body = res.json<Body>();
    expectShape(body, 413, 'TOO_MANY_FILES');
    expect(body.message).toBe('Too many images in one request: POST /predict/batch takes at most 3, the limit set by MAX_BATCH_FILES');
  });

  it('413 TOO_MANY_FILES on /predict points to /predict/batch and its limit', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result)));
    const res = await postMany(app, 2, '/predict');
    expect(res.statusCode).toBe(413);
    expect(res.json<Body>().message).toBe('POST /predict takes one image; send several to /predict/batch (at most 3, the limit set by MAX_BATCH_FILES)');
  });

  it('503 QUEUE_FULL names MAX_QUEUE_LENGTH, its value and the backlog, with Retry-After', async () => {
    const app = await appWith(fakeQueue(() => Promise.resolve(result), () => Promise.reject(new QueueFullError(77, 2))));
    const res = await postOne(app, await testImage(1));
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('2');
    const body = res.json<Body>();
    expectShape(body, 503, 'QUEUE_FULL');
    expect(body.message).toBe('The inference queue is full: 77 requests waiting, the limit of 77 set by MAX_QUEUE_LENGTH; retry in 2s');
  });

  it('504 DEADLINE_EXCEEDED names REQUEST_TIMEOUT_MS and its value, also per image in a batch', async () => {
    // The client's timer runs for what is left of the deadline (less than REQUEST_TIMEOUT_MS): the message names the setting.
    const app = await appWith(fakeQueue(() => Promise.reject(new DeadlineExceededError(4300))));
    const res = await postOne(app, await testImage(1));
    expect(res.statusCode).toBe(504);
    const body = res.json<Body>();
    expectShape(body, 504, 'DEADLINE_EXCEEDED');
    expect(body.message).toBe('No inference result within the limit of 4321 ms set by REQUEST_TIMEOUT_MS');
    const batch = await postMany(app, 1);
    expect(batch.json<{ results: Array<{ error: Body }> }>().results[0]!.error.message).toBe(body.message);
  });
});

describe('formatBytes', () => {
  it('shows whole MiB with the exact bytes, anything else in bytes', () => {
    expect(formatBytes(5 * 1024 * 1024)).toBe('5 MiB (5242880 bytes)');
    expect(formatBytes(200_000)).toBe('200000 bytes');
  });
});
