import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/logger';
import { payloadLogDefaults } from '../../lib/payload-log/config';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { bagResult, fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel } from '../../tests/support/metadata';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { buildApp } from '../app';
import { parseCredentials } from '../services/feedback-auth';

const result = bagResult;
const LABELLER = 'labeller-token-0123456789';
const VIEWER = 'viewer-token-0123456789ab';
const auth = (token: string) => ({ authorization: `Bearer ${token}` });

let redis: RedisClient;
let prefix: string;
let app: FastifyInstance;
let registry: Registry;

beforeAll(() => {
  redis = new Redis(testRedisUrl());
});
afterAll(() => redis.quit());

beforeEach(async () => {
  prefix = uniquePrefix('feedback');
  registry = new Registry();
  app = await buildApp({
    config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, MODEL_NAME: 'fashion-mnist-classifier', DECODE_IN: 'api' },
    inference: fakeQueue(() => Promise.resolve(result)),
    models: servedModels(testActiveModel('3')),
    readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
    logger: createLogger('test', 'silent'),
    metricsRegistry: registry,
    payloadLog: {
      redis,
      prefix,
      config: { ...payloadLogDefaults(), PAYLOAD_LOG_SAMPLE: 0, LIVE_ACCURACY_WINDOW: 3 },
      credentials: parseCredentials(`alice:labeller:${LABELLER},bob:viewer:${VIEWER}`, 'FEEDBACK_TOKENS'),
    },
  });
});
afterEach(async () => {
  await app.close();
  await deletePrefix(redis, prefix);
});

/** A prediction through POST /predict (or /predict/batch with `images` images); resolves once its record is in Redis. */
async function predict(id: string, images = 1): Promise<void> {
  const batch = images > 1;
  const { payload, headers } = batch ? await batchBody(images) : await multipartBody(await testImage(1));
  const res = await app.inject({ method: 'POST', url: batch ? '/predict/batch' : '/predict', payload, headers: { ...headers, 'x-request-id': id } });
  expect(res.statusCode).toBe(200);
  const key = payloadLogKeys(prefix).prediction('fashion-mnist-classifier', batch ? `${id}#0` : id);
  for (let i = 0; i < 100 && !(await redis.exists(key)); i++) await new Promise((r) => setTimeout(r, 10));
}

async function batchBody(n: number): Promise<{ payload: Buffer; headers: Record<string, string> }> {
  const boundary = 'feedback-batch-boundary';
  const image = await testImage(2);
  const parts = Array.from({ length: n }, (_, i) =>
    Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="img_file"; filename="${i}.png"\r\nContent-Type: image/png\r\n\r\n`), image, Buffer.from('\r\n')]),
  );
  return { payload: Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]), headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

const feedback = (body: unknown, headers: Record<string, string> = auth(LABELLER), url = '/feedback') => app.inject({ method: 'POST', url, payload: body as object, headers });

const sample = async (name: string, labels: Record<string, string>) =>
  (await registry.getSingleMetric(name)!.get()).values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;

describe('POST /feedback', () => {
  it('answers 401 without a credential and with an unknown one, before looking at the body', async () => {
    await predict('r1');
    const none = await feedback({ request_id: 'r1', label: 'Bag' }, {});
    expect(none.statusCode).toBe(401);
    expect(none.json()).toMatchObject({ statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized' });
    expect((await feedback({ request_id: 'r1', label: 'Bag' }, auth('not-a-known-token-at-all'))).statusCode).toBe(401);
    const garbage = await app.inject({ method: 'POST', url: '/feedback', payload: 'not json', headers: { 'content-type': 'text/plain' } });
    expect(garbage.statusCode).toBe(401);
  });

  it('answers 403 to a credential without the labeller role', async () => {
    await predict('r1');
    const res = await feedback({ request_id: 'r1', label: 'Bag' }, auth(VIEWER));
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ statusCode: 403, code: 'FORBIDDEN', error: 'Forbidden' });
  });

  it('accepts known feedback with 202, the join and who labelled it', async () => {
    await predict('r1');
    const res = await feedback({ request_id: 'r1', label: 'Bag' });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ statusCode: 202, request_id: 'r1', status: 'accepted', model: 'fashion-mnist-classifier', version: '3', predicted: 'Bag', correct: true });
    const stored = JSON.parse((await redis.get(payloadLogKeys(prefix).feedback('fashion-mnist-classifier', 'r1')))!) as { label: string; by: string };
    expect(stored).toMatchObject({ label: 'Bag', by: 'alice' });
  });

  it('answers 404 to an unknown request id', async () => {
    const res = await feedback({ request_id: 'never-seen', label: 'Bag' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'UNKNOWN_REQUEST', error: 'Not Found', request_id: 'never-seen' });
  });

  it('answers 422 to a label the model does not have', async () => {
    await predict('r1');
    const res = await feedback({ request_id: 'r1', label: 'Hat' });
    expect(res.statusCode).toBe(422);
    expect(res.json()).toMatchObject({ statusCode: 422, code: 'UNKNOWN_LABEL' });
    expect(res.json<{ message: string }>().message).toContain('Ankle boot');
  });

  it('answers 400 to a body that is neither an item nor an array of 1-100 items', async () => {
    for (const body of [{ request_id: 'r1' }, [], Array.from({ length: 101 }, () => ({ request_id: 'r', label: 'Bag' }))]) {
      const res = await feedback(body);
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_FEEDBACK' });
    }
  });

  it('takes the same feedback again as an idempotent 202 (duplicate), counted once', async () => {
    await predict('r1');
    expect((await feedback({ request_id: 'r1', label: 'Coat' })).statusCode).toBe(202);
    const again = await feedback({ request_id: 'r1', label: 'Coat' });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ status: 'duplicate', correct: false });
    expect(await sample('lifecycle_feedback_total', { version: '3', outcome: 'wrong' })).toBe(1);
    expect(await redis.xlen(payloadLogKeys(prefix).feedbackStream('fashion-mnist-classifier'))).toBe(1);
  });

  it('answers 409 to a different label for a request already labelled', async () => {
    await predict('r1');
    await feedback({ request_id: 'r1', label: 'Bag' });
    const res = await feedback({ request_id: 'r1', label: 'Coat' });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ statusCode: 409, code: 'CONFLICTING_LABEL', error: 'Conflict' });
  });

  it('answers 500 FEEDBACK_STORE_FAILED, not a retry-inviting 503, when Redis refuses the write', async () => {
    await predict('r1');
    // A key of the wrong type makes the store script fail inside Redis (a ReplyError): a server fault, not an outage.
    await redis.set(payloadLogKeys(prefix).feedbackStream('fashion-mnist-classifier'), 'not a stream');
    const res = await feedback({ request_id: 'r1', label: 'Bag' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['retry-after']).toBeUndefined();
    expect(res.json()).toMatchObject({ statusCode: 500, code: 'FEEDBACK_STORE_FAILED' });
  });

  it('answers a batch with one result per item, a bad item failing alone', async () => {
    await predict('r1');
    await predict('r2');
    const res = await feedback([
      { request_id: 'r1', label: 'Bag' },
      { request_id: 'missing', label: 'Bag' },
      { request_id: 'r2', label: 'Hat' },
      { request_id: 'r2', label: 'Coat' },
    ]);
    expect(res.statusCode).toBe(200);
    const body = res.json<{ results: Array<{ index: number; statusCode: number; code?: string }>; accepted: number; failed: number }>();
    expect(body.results.map((r) => [r.index, r.statusCode, r.code])).toEqual([
      [0, 202, undefined],
      [1, 404, 'UNKNOWN_REQUEST'],
      [2, 422, 'UNKNOWN_LABEL'],
      [3, 202, undefined],
    ]);
    expect(body).toMatchObject({ accepted: 2, failed: 2 });
  });

  it('joins the images of a batch prediction by <request_id>#<index>', async () => {
    await predict('b1', 2);
    const res = await feedback({ request_id: 'b1#1', label: 'Bag' }, auth(LABELLER), '/models/fashion-mnist-classifier/feedback');
    expect(res.statusCode).toBe(202);
    expect((await feedback({ request_id: 'b1#1', label: 'Bag' }, auth(LABELLER), '/models/other-model/feedback')).statusCode).toBe(404);
  });

  it('moves the feedback counters and the rolling live accuracy (last LIVE_ACCURACY_WINDOW outcomes)', async () => {
    for (const id of ['a', 'b', 'c', 'd']) await predict(id);
    await feedback([{ request_id: 'a', label: 'Coat' }, { request_id: 'b', label: 'Bag' }]);
    expect(await sample('lifecycle_feedback_total', { model: 'fashion-mnist-classifier', version: '3', outcome: 'correct' })).toBe(1);
    expect(await sample('lifecycle_feedback_total', { model: 'fashion-mnist-classifier', version: '3', outcome: 'wrong' })).toBe(1);
    expect(await sample('lifecycle_live_accuracy', { model: 'fashion-mnist-classifier', version: '3' })).toBeCloseTo(0.5);
    // Window of 3: a, b, c, d -> the oldest (a, wrong) falls out, leaving b, c, d all correct.
    const more = await feedback([{ request_id: 'c', label: 'Bag' }, { request_id: 'd', label: 'Bag' }]);
    expect(more.statusCode).toBe(200);
    expect((more.json<{ results: Array<{ statusCode: number }> }>()).results.map((r) => r.statusCode)).toEqual([202, 202]);
    // Every accepted feedback is on the stream for the logger (a failing script used to stop before its XADD).
    expect(await redis.xlen(payloadLogKeys(prefix).feedbackStream('fashion-mnist-classifier'))).toBe(4);
    expect(await sample('lifecycle_live_accuracy', { model: 'fashion-mnist-classifier', version: '3' })).toBeCloseTo(1);
    expect(await sample('lifecycle_live_accuracy_samples', { model: 'fashion-mnist-classifier', version: '3' })).toBe(3);
    // Another API instance (here: a plain scrape of the shared window) reads the same value: it lives in Redis.
    expect(await redis.hgetall(payloadLogKeys(prefix).accuracy('fashion-mnist-classifier'))).toEqual({ '3:n': '3', '3:correct': '3' });
  });
});

describe('GET /metrics', () => {
  it('exports the live accuracy and its sample count from one scrape', async () => {
    await predict('m1');
    await predict('m2');
    await feedback([{ request_id: 'm1', label: 'Bag' }, { request_id: 'm2', label: 'Coat' }]);
    const text = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toContain('lifecycle_live_accuracy{model="fashion-mnist-classifier",version="3"} 0.5');
    expect(text).toContain('lifecycle_live_accuracy_samples{model="fashion-mnist-classifier",version="3"} 2');
  });
});

describe('GET /docs/json', () => {
  it('documents both feedback routes with their body', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json<{ paths: Record<string, { post?: { requestBody?: unknown } }> }>();
    expect(doc.paths['/feedback']?.post?.requestBody).toBeDefined();
    expect(doc.paths['/models/{name}/feedback']?.post?.requestBody).toBeDefined();
    expect(JSON.stringify(doc.paths['/feedback']?.post?.requestBody)).toContain('request_id');
  });
});
