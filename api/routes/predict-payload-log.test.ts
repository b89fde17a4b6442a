import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { createLogger } from '../../lib/logger';
import { payloadLogDefaults } from '../../lib/payload-log/config';
import { bagResult, fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { multipartBody, testImage } from '../../tests/support/images';
import { testActiveModel } from '../../tests/support/metadata';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { buildApp } from '../app';

/** The API marks the requests sampled for the payload log on their queue entries; the answering worker writes them. */
describe('payload-log sampling on the prediction routes', () => {
  let redis: RedisClient;
  const prefix = uniquePrefix('predict-plog');
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  async function appWith(sample: number, disabled: string[] = []) {
    const queue = fakeQueue(() => Promise.resolve(bagResult));
    const app = await buildApp({
      config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, MODEL_NAME: 'fashion-mnist-classifier', DECODE_IN: 'api' },
      inference: queue,
      models: servedModels(testActiveModel('3')),
      readiness: () => Promise.resolve({ ready: true, model: null, workers: 1 }),
      logger: createLogger('test', 'silent'),
      payloadLog: { redis, prefix, config: { ...payloadLogDefaults(), PAYLOAD_LOG_SAMPLE: sample, PAYLOAD_LOG_DISABLED_MODELS: disabled }, credentials: [] },
    });
    return { app, queue };
  }

  it('marks every request at PAYLOAD_LOG_SAMPLE=1, on /predict and /predict/batch (the Open Inference Protocol shares their Predictor)', async () => {
    const { app, queue } = await appWith(1);
    const { payload, headers } = await multipartBody(await testImage(1));
    expect((await app.inject({ method: 'POST', url: '/predict', payload, headers })).statusCode).toBe(200);
    const batch = await multipartBody(await testImage(2));
    expect((await app.inject({ method: 'POST', url: '/predict/batch', payload: batch.payload, headers: batch.headers })).statusCode).toBe(200);
    expect(queue.calls.map((c) => c.log)).toEqual([true, true]);
    await app.close();
  });

  it('marks none at PAYLOAD_LOG_SAMPLE=0, and none of a model whose log is switched off', async () => {
    for (const { app, queue } of [await appWith(0), await appWith(1, ['fashion-mnist-classifier'])]) {
      const { payload, headers } = await multipartBody(await testImage(1));
      expect((await app.inject({ method: 'POST', url: '/predict', payload, headers })).statusCode).toBe(200);
      expect(queue.calls.map((c) => c.log)).toEqual([undefined]);
      await app.close();
    }
  });
});
