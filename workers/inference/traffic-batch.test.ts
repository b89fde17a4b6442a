import type * as ort from 'onnxruntime-node';
import { createLogger } from '../../lib/logger';
import { createInferenceMetrics } from '../../lib/metrics/inference-metrics';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import { ModelRunner } from '../../lib/model/model-runner';
import type { InferenceRequest, RequestInput } from '../../lib/queue/messages';
import type { Received } from '../../lib/queue/request-consumer';
import { FakeSession } from '../../tests/support/fake-session';
import { testMetadata } from '../../tests/support/metadata';
import { BatchLoop } from './batch-loop';
import { ModelSlot } from './model-slot';

const logger = createLogger('test', 'silent');
/** Identity normalisation: the fake session's predicted class is the first pixel's value. */
const identity = testMetadata({ normalization: { scale: 1, mean: [0], std: [1] } });

/** A candidate that predicts the next class when `disagree` says so, and records the inputs it was given. */
class CandidateSession extends FakeSession {
  readonly inputs: Float32Array[] = [];
  constructor(private readonly disagree: (cls: number) => boolean) {
    super();
  }
  override run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>> {
    const input = feeds.input!;
    const data = Float32Array.from(input.data as Float32Array);
    this.inputs.push(data);
    for (let b = 0; b < input.dims[0]!; b++) if (this.disagree(data[b * 784]!)) data[b * 784] = data[b * 784]! + 1;
    return super.run({ input: { ...input, data } });
  }
}

/** A candidate whose runs wait until the test opens the gate (a slow shadow model). */
class GatedCandidate extends CandidateSession {
  private open: () => void = () => undefined;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  started = 0;
  openGate(): void {
    this.open();
  }
  override async run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.OnnxValue>> {
    this.started++;
    await this.gate;
    return super.run(feeds);
  }
}

function setup(withCandidate = true, candidate: CandidateSession = new CandidateSession((cls) => cls === 8), consumer: ConstructorParameters<typeof BatchLoop>[0]['consumer'] = idleConsumer) {
  const champion = new FakeSession();
  const slot = new ModelSlot(logger);
  const candidateSlot = new ModelSlot(logger);
  slot.swap({ ref: { name: 'm', version: '7', sha256: 'a'.repeat(64), artifactUri: 'x' }, metadata: identity, runner: new ModelRunner(champion, identity) });
  if (withCandidate) candidateSlot.swap({ ref: { name: 'm', version: '8', sha256: 'b'.repeat(64), artifactUri: 'y' }, metadata: identity, runner: new ModelRunner(candidate, identity) });
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const metrics = createInferenceMetrics(registry);
  const loop = new BatchLoop({ model: 'm', consumer, slot, candidate: candidateSlot, metrics, logger, maxInputPixels: 1_000_000 });
  const value = async (name: string, labels: Record<string, string>) =>
    ((await registry.getSingleMetric(name)!.get()).values as Array<{ value: number; labels: Record<string, unknown> }>)
      .filter((s) => Object.entries(labels).every(([k, v]) => String(s.labels[k]) === v))
      .reduce((a, s) => a + s.value, 0);
  return { champion, candidate, loop, value };
}

const pixels = (first: number): RequestInput => {
  const data = new Uint8Array(28 * 28);
  data[0] = first;
  return { kind: 'pixels', pixels: data, height: 28, width: 28, channels: 1 };
};

let n = 0;
function received(overrides: Partial<InferenceRequest>, first = 3): Received {
  n++;
  const request: InferenceRequest = { id: `c${n}`, requestId: `r${n}`, replyTo: 'replies:api', deadline: Date.now() + 10_000, enqueuedAt: Date.now(), model: 'm', input: pixels(first), ...overrides };
  return { entryId: `${n}-0`, request };
}

const idleConsumer = { nextBatch: () => Promise.resolve([]), complete: () => Promise.resolve(), giveBack: () => undefined };

const versions = (done: Awaited<ReturnType<BatchLoop['process']>>) => done.map((d) => (d.reply?.ok ? d.reply.model.version : 'error'));

describe('a batch with traffic variants', () => {
  it('shadow: the champion answers; the candidate runs the same inputs only in the follow-up, and agreement is counted', async () => {
    const { loop, candidate, champion, value } = setup();
    const followUps: Array<() => Promise<void>> = [];
    const done = await loop.process([received({ variant: 'shadow', candidateVersion: '8' }, 3), received({ variant: 'shadow', candidateVersion: '8' }, 8), received({}, 1)], undefined, followUps);
    expect(versions(done)).toEqual(['7', '7', '7']);
    expect(champion.batchSizes).toEqual([3]);
    expect(candidate.batchSizes).toEqual([]); // nothing ran on the candidate before the replies
    expect(followUps).toHaveLength(1);
    await followUps[0]!();
    expect(candidate.batchSizes).toEqual([2]);
    expect(await value('lifecycle_version_agreement_total', { version: '8', agree: 'true' })).toBe(1);
    expect(await value('lifecycle_version_agreement_total', { version: '8', agree: 'false' })).toBe(1);
    expect(await value('lifecycle_version_requests_total', { version: '8', outcome: 'ok' })).toBe(2);
    expect(await value('lifecycle_version_requests_total', { version: '7', outcome: 'ok' })).toBe(3);
    // Same input metadata: the candidate got the champion's prepared examples.
    expect(candidate.inputs[0]?.[0]).toBe(3);
  });

  it('canary: the candidate answers canary requests; mirrored ones also run on the champion afterwards', async () => {
    const { loop, candidate, champion, value } = setup();
    const followUps: Array<() => Promise<void>> = [];
    const done = await loop.process([received({ variant: 'canary', candidateVersion: '8' }), received({ variant: 'canary-mirror', candidateVersion: '8' }, 8), received({})], undefined, followUps);
    expect(versions(done)).toEqual(['7', '8', '8']);
    expect([champion.batchSizes, candidate.batchSizes]).toEqual([[1], [2]]);
    await followUps[0]!();
    expect(champion.batchSizes).toEqual([1, 1]);
    expect(await value('lifecycle_version_agreement_total', { version: '8', agree: 'false' })).toBe(1);
    expect(await value('lifecycle_version_predictions_total', { version: '8', label: 'Bag' })).toBe(0);
    expect(await value('lifecycle_version_predictions_total', { version: '8', label: 'Ankle boot' })).toBe(1);
  });

  it('a canary request for a candidate this worker does not hold is answered by the champion (its version in the reply) and counted', async () => {
    const { loop, value } = setup(false);
    const done = await loop.process([received({ variant: 'canary', candidateVersion: '8' }), received({ variant: 'canary-mirror', candidateVersion: '9' })]);
    expect(versions(done)).toEqual(['7', '7']);
    expect(await value('lifecycle_traffic_fallbacks_total', { model: 'm' })).toBe(2);
  });

  it('a shadow request without the candidate loaded is answered by the champion; its follow-up runs nothing', async () => {
    const { loop, champion, value } = setup(false);
    const followUps: Array<() => Promise<void>> = [];
    const done = await loop.process([received({ variant: 'shadow', candidateVersion: '8' })], undefined, followUps);
    expect(versions(done)).toEqual(['7']);
    for (const f of followUps) await f();
    expect(champion.batchSizes).toEqual([1]);
    expect(await value('lifecycle_version_agreement_total', {})).toBe(0);
    expect(await value('lifecycle_traffic_fallbacks_total', {})).toBe(0);
  });

  it('the next batch is answered while the previous batch\'s shadow run is still running (nobody waits for a shadow run)', async () => {
    const batches: Received[][] = [[received({ variant: 'shadow', candidateVersion: '8' }, 3)], [received({}, 1)]];
    const completed: string[] = [];
    const consumer = {
      nextBatch: async () => batches.shift() ?? (await new Promise<Received[]>((r) => setTimeout(() => r([]), 5))),
      complete: (done: Array<{ reply?: { id: string } }>) => {
        completed.push(...done.map((d) => d.reply?.id ?? '?'));
        return Promise.resolve();
      },
      giveBack: () => undefined,
    };
    const gated = new GatedCandidate(() => false);
    const { loop, value } = setup(true, gated, consumer);
    const running = loop.run();
    const until = Date.now() + 5000;
    while (completed.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
    expect(completed).toHaveLength(2); // the second batch's reply went out...
    expect(gated.started).toBe(1); // ...while the first one's shadow run had started and not finished
    expect(await value('lifecycle_version_agreement_total', {})).toBe(0);
    loop.stop();
    gated.openGate();
    await running; // stop() waits for the pending shadow run
    expect(await value('lifecycle_version_agreement_total', { version: '8', agree: 'true' })).toBe(1);
  });
});
