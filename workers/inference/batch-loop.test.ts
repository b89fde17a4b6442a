import { createLogger } from '../../lib/logger';
import { createInferenceMetrics } from '../../lib/metrics/inference-metrics';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import type { InferenceRequest } from '../../lib/queue/messages';
import type { Received } from '../../lib/queue/request-consumer';
import { FakeSession } from '../../tests/support/fake-session';
import { testMetadata } from '../../tests/support/metadata';
import { histogramStats, metricTotal } from '../../tests/support/metrics';
import { BatchLoop } from './batch-loop';
import { ModelRunner } from './model-runner';
import { ModelSlot } from './model-slot';

const logger = createLogger('test', 'silent');

function setup() {
  const session = new FakeSession();
  const slot = new ModelSlot(logger);
  slot.swap({ ref: { name: 'm', version: '7', sha256: 'a'.repeat(64), artifactUri: 'x' }, metadata: testMetadata(), runner: new ModelRunner(session, testMetadata()) });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const metrics = createInferenceMetrics(registry);
  const loop = new BatchLoop({ consumer: { nextBatch: () => Promise.resolve([]), complete: () => Promise.resolve() }, slot, metrics, logger });
  return { session, slot, loop, registry };
}

let n = 0;
function received(overrides: Partial<InferenceRequest> = {}, firstValue = 0): Received {
  n++;
  const tensor = new Float32Array(784);
  tensor[0] = firstValue;
  const request: InferenceRequest = {
    id: `c${n}`,
    requestId: `r${n}`,
    replyTo: 'replies:api',
    deadline: Date.now() + 10_000,
    enqueuedAt: Date.now(),
    model: 'm',
    dims: [1, 1, 28, 28],
    tensor,
    ...overrides,
  };
  return { entryId: `${n}-0`, request };
}


describe('BatchLoop.process', () => {
  it('runs all valid requests as one batch and answers each with its top-5', async () => {
    const { loop, session } = setup();
    const done = await loop.process([received({}, 3), received({}, 8)]);
    expect(session.batchSizes).toEqual([2]);
    expect(done).toHaveLength(2);
    const [first, second] = done.map((d) => d.reply);
    expect(first).toMatchObject({ ok: true, model: { name: 'm', version: '7' } });
    expect(first?.ok && first.predictions[0]?.label).toBe('Dress');
    expect(second?.ok && second.predictions[0]?.label).toBe('Bag');
    expect(first?.ok && first.predictions).toHaveLength(5);
  });

  it('acknowledges expired requests without running or answering them', async () => {
    const { loop, session, registry } = setup();
    const done = await loop.process([received({ deadline: Date.now() - 1 })]);
    expect(done).toHaveLength(1);
    expect(done[0]?.reply).toBeUndefined();
    expect(session.batchSizes).toEqual([]);
    expect(await metricTotal(registry, 'lifecycle_inference_requests_expired_total')).toBe(1);
  });

  it('answers MODEL_MISMATCH to a request preprocessed for another model, and still runs the rest', async () => {
    const { loop, session } = setup();
    const done = await loop.process([received({ model: 'other' }), received()]);
    expect(done.map((d) => d.reply?.ok)).toEqual([false, true]);
    expect(done[0]?.reply).toMatchObject({ ok: false, code: 'MODEL_MISMATCH' });
    expect(session.batchSizes).toEqual([1]);
  });

  it('answers INVALID_REQUEST when the tensor shape does not fit the model', async () => {
    const { loop } = setup();
    const done = await loop.process([received({ dims: [1, 1, 28, 28], tensor: new Float32Array(784) }), received({ dims: [1, 3, 28, 28], tensor: new Float32Array(3 * 784) })]);
    expect(done.map((d) => (d.reply && !d.reply.ok ? d.reply.code : 'ok'))).toEqual(['INVALID_REQUEST', 'ok']);
  });

  it('answers a malformed entry with INVALID_REQUEST when it can tell whom to answer', async () => {
    const { loop } = setup();
    const done = await loop.process([{ entryId: '1-0', request: null, error: 'bad dims', id: 'c1', replyTo: 'replies:api' }]);
    expect(done).toEqual([{ entryId: '1-0', replyTo: 'replies:api', reply: { id: 'c1', ok: false, code: 'INVALID_REQUEST', message: 'bad dims' } }]);
  });

  it('answers INFERENCE_FAILED to the whole batch when the run fails', async () => {
    const { loop, session } = setup();
    session.run = () => Promise.reject(new Error('ort exploded'));
    const done = await loop.process([received(), received()]);
    expect(done.map((d) => d.reply && !d.reply.ok && d.reply.code)).toEqual(['INFERENCE_FAILED', 'INFERENCE_FAILED']);
  });

  it('records batch size and processed count', async () => {
    const { loop, registry } = setup();
    await loop.process([received(), received(), received()]);
    expect(await metricTotal(registry, 'lifecycle_inference_requests_processed_total')).toBe(3);
    expect(await histogramStats(registry, 'lifecycle_inference_batch_size')).toEqual({ count: 1, sum: 3 });
  });
});
