import sharp from 'sharp';
import { createLogger } from '../../lib/logger';
import { createInferenceMetrics } from '../../lib/metrics/inference-metrics';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import type { ModelMetadata } from '../../lib/model/metadata';
import type { InferenceRequest, RequestInput } from '../../lib/queue/messages';
import type { Received } from '../../lib/queue/request-consumer';
import { FakeSession } from '../../tests/support/fake-session';
import { testMetadata } from '../../tests/support/metadata';
import { histogramStats, metricTotal } from '../../tests/support/metrics';
import { BatchLoop } from './batch-loop';
import { ModelRunner } from '../../lib/model/model-runner';
import { ModelSlot } from './model-slot';

const logger = createLogger('test', 'silent');
/** Identity normalisation: the fake session's predicted class is the first pixel's value. */
const identity = testMetadata({ normalization: { scale: 1, mean: [0], std: [1] } });

function setup(metadata: ModelMetadata = identity) {
  const session = new FakeSession();
  const slot = new ModelSlot(logger);
  slot.swap({ ref: { name: 'm', version: '7', sha256: 'a'.repeat(64), artifactUri: 'x' }, metadata, runner: new ModelRunner(session, metadata) });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const metrics = createInferenceMetrics(registry);
  const consumer = { nextBatch: () => Promise.resolve([]), complete: () => Promise.resolve(), giveBack: () => undefined };
  const loop = new BatchLoop({ model: 'm', consumer, slot, metrics, logger, maxInputPixels: 1_000_000 });
  return { session, slot, loop, registry };
}

const pixels = (first: number, height = 28, width = 28, channels = 1): RequestInput => {
  const data = new Uint8Array(height * width * channels);
  data[0] = first;
  return { kind: 'pixels', pixels: data, height, width, channels };
};

let n = 0;
function received(overrides: Partial<InferenceRequest> = {}, input: RequestInput = pixels(0)): Received {
  n++;
  const request: InferenceRequest = {
    id: `c${n}`,
    requestId: `r${n}`,
    replyTo: 'replies:api',
    deadline: Date.now() + 10_000,
    enqueuedAt: Date.now(),
    model: 'm',
    input,
    ...overrides,
  };
  return { entryId: `${n}-0`, request };
}

const codes = (done: Awaited<ReturnType<BatchLoop['process']>>) => done.map((d) => (d.reply && !d.reply.ok ? d.reply.code : 'ok'));

describe('BatchLoop.process', () => {
  it('runs all valid requests as one batch and answers each with its top-5', async () => {
    const { loop, session } = setup();
    const done = await loop.process([received({}, pixels(3)), received({}, pixels(8))]);
    expect(session.batchSizes).toEqual([2]);
    expect(done).toHaveLength(2);
    const [first, second] = done.map((d) => d.reply);
    expect(first).toMatchObject({ ok: true, model: { name: 'm', version: '7' } });
    expect(first?.ok && first.predictions[0]?.label).toBe('Dress');
    expect(second?.ok && second.predictions[0]?.label).toBe('Bag');
    expect(first?.ok && first.predictions).toHaveLength(5);
  });

  it('answers each request of a batch with its own top-k (every class for the Open Inference Protocol)', async () => {
    const { loop, session } = setup();
    const done = await loop.process([received({ k: 10 }, pixels(3)), received({}, pixels(8)), received({ k: 1 }, pixels(8))]);
    expect(session.batchSizes).toEqual([3]);
    const [all, top5, top1] = done.map((d) => (d.reply?.ok ? d.reply.predictions : []));
    expect(all).toHaveLength(10);
    expect(all?.[0]?.label).toBe('Dress');
    expect(new Set(all?.map((p) => p.label)).size).toBe(10);
    expect(top5).toHaveLength(5);
    expect(top1).toEqual([top5![0]]);
  });

  it('normalises with the metadata of the model that runs the batch, not the one the request was made for', async () => {
    // x = (p * scale - mean) / std with this model's numbers: pixel 4 -> (4 * 1 - 1) / 1 = 3 = Dress.
    const { loop } = setup(testMetadata({ normalization: { scale: 1, mean: [1], std: [1] } }));
    const [done] = await loop.process([received({}, pixels(4))]);
    expect(done?.reply?.ok && done.reply.predictions[0]?.label).toBe('Dress');
  });

  it('resizes pixels prepared for another input geometry (a rollout between versions of different sizes)', async () => {
    const { loop, session } = setup();
    const done = await loop.process([received({}, pixels(0, 56, 56, 3))]);
    expect(codes(done)).toEqual(['ok']);
    expect(session.batchSizes).toEqual([1]);
  });

  it('decodes an upload sent as is (DECODE_IN=worker), and answers a bad one with its image error', async () => {
    const { loop } = setup();
    const png = await sharp({ create: { width: 28, height: 28, channels: 3, background: { r: 5, g: 5, b: 5 } } }).png().toBuffer();
    const good = received({}, { kind: 'image', image: png });
    const bad = received({}, { kind: 'image', image: Buffer.from('not an image') });
    const done = await loop.process([good, bad]);
    const replyTo = (r: Received) => done.find((d) => d.entryId === r.entryId)?.reply;
    expect(replyTo(bad)).toMatchObject({ ok: false, code: 'UNSUPPORTED_IMAGE' });
    const ok = replyTo(good);
    expect(ok?.ok && ok.predictions[0]?.label).toBe('Sandal');
  });

  it('acknowledges expired requests without running or answering them', async () => {
    const { loop, session, registry } = setup();
    const done = await loop.process([received({ deadline: Date.now() - 1 })]);
    expect(done).toHaveLength(1);
    expect(done[0]?.reply).toBeUndefined();
    expect(session.batchSizes).toEqual([]);
    expect(await metricTotal(registry, 'lifecycle_inference_requests_expired_total')).toBe(1);
  });

  it('answers a malformed entry with INVALID_REQUEST when it can tell whom to answer', async () => {
    const { loop } = setup();
    const done = await loop.process([{ entryId: '1-0', request: null, error: 'bad geometry', id: 'c1', replyTo: 'replies:api' }]);
    expect(done).toEqual([{ entryId: '1-0', replyTo: 'replies:api', reply: { id: 'c1', ok: false, code: 'INVALID_REQUEST', message: 'bad geometry' } }]);
  });

  it('answers INFERENCE_FAILED to the whole batch when the run fails', async () => {
    const { loop, session } = setup();
    session.run = () => Promise.reject(new Error('ort exploded'));
    const done = await loop.process([received(), received()]);
    expect(codes(done)).toEqual(['INFERENCE_FAILED', 'INFERENCE_FAILED']);
  });

  it('records batch size and processed count by model', async () => {
    const { loop, registry } = setup();
    await loop.process([received(), received(), received()]);
    expect(await metricTotal(registry, 'lifecycle_inference_requests_processed_total')).toBe(3);
    expect(await histogramStats(registry, 'lifecycle_inference_batch_size')).toEqual({ count: 1, sum: 3 });
    const text = await registry.metrics();
    expect(text).toContain('lifecycle_inference_requests_processed_total{model="m"} 3');
  });
});
