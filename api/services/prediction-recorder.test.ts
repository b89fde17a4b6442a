import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/logger';
import { createPayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import { payloadLogDefaults } from '../../lib/payload-log/config';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { testImage } from '../../tests/support/images';
import { testActiveModel } from '../../tests/support/metadata';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { PredictionRecorder } from './prediction-recorder';

/** Sampling of the payload log against a real Redis: the configured share, and all of a traffic step's requests. */
describe('PredictionRecorder sampling', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(() => redis.quit());
  beforeEach(() => {
    prefix = uniquePrefix('recorder');
  });
  afterEach(() => deletePrefix(redis, prefix));

  const recorderWith = (sample: number, inTrafficStep: (model: string) => boolean) =>
    new PredictionRecorder({
      redis,
      prefix,
      config: { ...payloadLogDefaults(), PAYLOAD_LOG_SAMPLE: sample },
      maxImagePixels: 4_000_000,
      metrics: createPayloadLogMetrics(new Registry(), () => Promise.resolve(new Map<string, never[]>())),
      logger: createLogger('test', 'silent'),
      random: () => 0.5,
      inTrafficStep,
    });

  async function record(recorder: PredictionRecorder, count: number): Promise<number> {
    const model = testActiveModel('3');
    const upload = await testImage(1);
    const result = { model: { name: model.name, version: '3' }, predictions: [{ label: 'Bag', probability: 0.9 }] };
    recorder.record(model, Array.from({ length: count }, (_, i) => ({ requestId: `r${i}`, result, upload })), 2);
    await recorder.settled();
    return redis.xlen(payloadLogKeys(prefix).payloads(model.name));
  }

  it('logs no payload outside a traffic step when the draw is above the share', async () => {
    expect(await record(recorderWith(0.1, () => false), 4)).toBe(0);
  });

  it('logs every payload of a model in a shadow or canary step, whatever the share', async () => {
    expect(await record(recorderWith(0, (m) => m === 'fashion-mnist-classifier'), 4)).toBe(4);
  });
});
