import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createLogger } from '../../lib/logger';
import { createPayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import { payloadLogDefaults } from '../../lib/payload-log/config';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { encodedPayloadEntrySchema, fromStreamEntry, payloadEntrySchema } from '../../lib/payload-log/records';
import { parseEntries } from '../../lib/queue/stream-entries';
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

  const recorderWith = (sample: number, inTrafficStep: (model: string) => boolean, encodedMaxBytes = payloadLogDefaults().PAYLOAD_LOG_ENCODED_MAX_BYTES) =>
    new PredictionRecorder({
      redis,
      prefix,
      config: { ...payloadLogDefaults(), PAYLOAD_LOG_SAMPLE: sample, PAYLOAD_LOG_ENCODED_MAX_BYTES: encodedMaxBytes },
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

  const entries = async () => parseEntries(await redis.xrangeBuffer(payloadLogKeys(prefix).payloads('fashion-mnist-classifier'), '-', '+'));

  it('sends an upload up to PAYLOAD_LOG_ENCODED_MAX_BYTES as it came, with the input spec the logger decodes it to', async () => {
    await record(recorderWith(0, () => true), 1);
    const [entry] = await entries();
    const encoded = fromStreamEntry(encodedPayloadEntrySchema, entry!, ['upload']);
    expect(encoded?.upload.equals(await testImage(1))).toBe(true);
    expect(encoded?.input).toEqual(testActiveModel('3').metadata.input);
    expect(entry!.fields!.has('pixels')).toBe(false);
  });

  it('decodes a larger upload itself, so a stream entry stays bounded', async () => {
    await record(recorderWith(0, () => true, 16), 1);
    const [entry] = await entries();
    const decoded = fromStreamEntry(payloadEntrySchema, entry!, ['pixels']);
    const { height, width, channels } = testActiveModel('3').metadata.input;
    expect(decoded).toMatchObject({ height, width, channels, request_id: 'r0', version: '3' });
    expect(decoded!.pixels.byteLength).toBe(height * width * channels);
    expect(entry!.fields!.has('upload')).toBe(false);
  });
});
