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
import { decodeToPixels } from '../../lib/model/preprocess';
import type { PayloadEntry } from '../../lib/payload-log/records';
import type { Completion } from '../../lib/queue/request-consumer';
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

describe('BatchLoop payload log (requests marked `log`)', () => {
  it('collects an entry for each answered marked request: the pixels its model ran on, its version, its answer and its time', async () => {
    const { loop } = setup();
    const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 9, g: 9, b: 9 } } }).png().toBuffer();
    const fromPixels = received({ log: true, enqueuedAt: Date.now() - 20 }, pixels(3));
    const fromUpload = received({ log: true }, { kind: 'image', image: png });
    const notMarked = received({}, pixels(8));
    const badUpload = received({ log: true }, { kind: 'image', image: Buffer.from('not an image') });
    const payloads: PayloadEntry[] = [];
    const done = await loop.process([fromPixels, fromUpload, notMarked, badUpload], undefined, undefined, payloads);
    expect(payloads.map((p) => p.request_id)).toEqual([fromPixels.request!.requestId, fromUpload.request!.requestId]);
    const answer = (r: Received) => {
      const reply = done.find((d) => d.entryId === r.entryId)?.reply;
      return reply?.ok ? reply.predictions : [];
    };
    expect(payloads[0]).toMatchObject({ model: 'm', version: '7', height: 28, width: 28, channels: 1, top_k: answer(fromPixels) });
    expect(payloads[0]!.pixels[0]).toBe(3);
    expect(payloads[0]!.latency_ms).toBeGreaterThanOrEqual(20);
    // An upload the worker decoded is logged as its model saw it: resized and converted to the model's geometry.
    const expected = await decodeToPixels(png, identity.input, { maxInputPixels: 1_000_000 });
    expect(payloads[1]).toMatchObject({ height: 28, width: 28, channels: 1, top_k: answer(fromUpload) });
    expect(payloads[1]!.pixels.equals(Buffer.from(expected.data))).toBe(true);
  });

  it('writes a batch\'s entries only after its replies went out', async () => {
    const events: string[] = [];
    const batches: Received[][] = [[received({ log: true }), received({ log: true })]];
    const consumer = {
      nextBatch: async () => batches.shift() ?? (await new Promise<Received[]>((r) => setTimeout(() => r([]), 5))),
      complete: async (completions: Completion[]) => {
        await new Promise((r) => setTimeout(r, 20)); // a reply round trip
        events.push(`replied ${completions.length}`);
      },
      giveBack: () => undefined,
    };
    const session = new FakeSession();
    const slot = new ModelSlot(logger);
    slot.swap({ ref: { name: 'm', version: '7', sha256: 'a'.repeat(64), artifactUri: 'x' }, metadata: identity, runner: new ModelRunner(session, identity) });
    const payloadLog = { write: (entries: readonly PayloadEntry[]) => void events.push(`logged ${entries.length}`) };
    const loop = new BatchLoop({ model: 'm', consumer, slot, metrics: createInferenceMetrics(createMetricsRegistry({ defaultMetrics: false })), logger, maxInputPixels: 1_000_000, payloadLog });
    const running = loop.run();
    const until = Date.now() + 5000;
    while (events.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    loop.stop();
    await running;
    expect(events).toEqual(['replied 2', 'logged 2']);
  });
});
