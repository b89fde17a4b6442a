import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/logger';
import { createPayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { predictionRecordSchema } from '../../lib/payload-log/records';
import { testActiveModel } from '../../tests/support/metadata';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { PredictionRecorder } from './prediction-recorder';

/** Prediction records against a real Redis: what feedback is later joined to. */
describe('PredictionRecorder', () => {
  let redis: RedisClient;
  let prefix: string;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(() => redis.quit());
  beforeEach(() => {
    prefix = uniquePrefix('recorder');
  });
  afterEach(() => deletePrefix(redis, prefix));

  it('leaves a record per answered image with the feedback window as its TTL, the labels of the served version, and no payload', async () => {
    const recorder = new PredictionRecorder({
      redis,
      prefix,
      config: { FEEDBACK_WINDOW_SECONDS: 600 },
      metrics: createPayloadLogMetrics(new Registry(), () => Promise.resolve(new Map<string, never[]>())),
      logger: createLogger('test', 'silent'),
    });
    const model = testActiveModel('3');
    const result = { model: { name: model.name, version: '3' }, predictions: [{ label: 'Bag', probability: 0.912345 }] };
    recorder.record(model, [{ requestId: 'r#0', result }, { requestId: 'r#1', result }]);
    await recorder.settled();
    const keys = payloadLogKeys(prefix);
    const record = predictionRecordSchema.parse(JSON.parse((await redis.get(keys.prediction(model.name, 'r#1')))!));
    expect(record).toMatchObject({ v: '3', k: [{ label: 'Bag', probability: 0.9123 }] });
    const ttl = await redis.ttl(keys.prediction(model.name, 'r#0'));
    expect(ttl).toBeGreaterThan(590);
    expect(ttl).toBeLessThanOrEqual(600);
    expect(JSON.parse((await redis.hget(keys.labels(model.name), '3'))!)).toEqual(model.metadata.labels);
    expect(await redis.exists(keys.payloads(model.name))).toBe(0);
  });
});
