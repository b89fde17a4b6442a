import type { Logger } from 'pino';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { topK } from '../../lib/model/postprocess';
import type { InferenceReply, InferenceRequest } from '../../lib/queue/messages';
import type { Completion, Received, RequestConsumer } from '../../lib/queue/request-consumer';
import type { LoadedModel } from './model-loader';
import type { ModelSlot } from './model-slot';
import { ExampleError, prepareExample } from './prepare-example';

const TOP_K = 5;

export interface BatchLoopOptions {
  /** The registered model whose stream this loop serves. */
  model: string;
  consumer: Pick<RequestConsumer, 'nextBatch' | 'complete' | 'giveBack'>;
  slot: ModelSlot;
  metrics: InferenceMetrics;
  logger: Logger;
  /** Pixel bound for uploads decoded here (DECODE_IN=worker). */
  maxInputPixels: number;
}

export type LoopPhase = 'waiting-for-model' | 'reading' | 'processing' | 'stopped';

type Runnable = { entryId: string; request: InferenceRequest };

/**
 * One model's serving loop on a worker: wait for a model, take a batch off the
 * model's stream, skip what expired, prepare each request for the model that
 * will run it, answer with one onnxruntime run. Two batches overlap: while one
 * runs (on its session's thread, see session-thread.ts) the next is read and
 * prepared, and it runs as soon as the first is done. `stop()` lets the
 * batches in hand finish and be answered before `run()` resolves.
 * `phase`/`phaseSince` and `busySince` let the worker's health check tell a
 * busy loop from a stuck one.
 */
export class BatchLoop {
  private readonly abort = new AbortController();
  phase: LoopPhase = 'waiting-for-model';
  phaseSince = Date.now();
  /** When each batch now being answered was taken on. */
  private readonly answering = new Set<number>();

  constructor(private readonly opts: BatchLoopOptions) {}

  stop(): void {
    this.abort.abort();
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  /** Since when the oldest batch in hand has been worked on (null when none is). */
  get busySince(): number | null {
    return this.answering.size === 0 ? null : Math.min(...this.answering);
  }

  async run(): Promise<void> {
    const { slot, consumer, logger } = this.opts;
    // The batch before this one: the next batch is read and prepared while it runs, and runs after it.
    let previous: Promise<void> = Promise.resolve();
    while (!this.stopping) {
      this.enter('waiting-for-model');
      await slot.ready(this.abort.signal);
      if (this.stopping) break;
      let batch: Received[];
      try {
        this.enter('reading');
        batch = await consumer.nextBatch();
      } catch (err) {
        // Redis hiccup: whatever a lost read delivered is taken from our own pending list next time.
        logger.error({ err, model: this.opts.model }, 'reading a batch failed');
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (batch.length === 0) continue;
      this.enter('processing');
      const current = this.answer(batch, previous);
      // At most two batches in hand: read the next one only once the one before this finished.
      await previous;
      previous = current;
    }
    await previous;
    this.enter('stopped');
  }

  /** Prepares `batch`, runs it once `after` is done, replies; never rejects. */
  private async answer(batch: Received[], after: Promise<void>): Promise<void> {
    const since = Date.now();
    this.answering.add(since);
    try {
      await this.opts.consumer.complete(await this.process(batch, after));
    } catch (err) {
      // A failed reply, the model unloaded under the batch: the entries stay pending under our name and
      // the next read takes them from our own pending list (or another worker's reaper does).
      this.opts.consumer.giveBack(batch);
      this.opts.logger.error({ err, model: this.opts.model }, 'inference batch failed');
    } finally {
      this.answering.delete(since);
    }
  }

  /** Decides the fate of every entry of a batch and runs the valid ones (also used for entries reclaimed from a dead worker). */
  async process(batch: Received[], after: Promise<void> = Promise.resolve()): Promise<Completion[]> {
    const { metrics, logger, model } = this.opts;
    const now = Date.now();
    const done: Completion[] = [];
    const runnable: Runnable[] = [];
    for (const item of batch) {
      if (item.request === null) {
        logger.warn({ entryId: item.entryId, error: item.error }, 'malformed inference request');
        metrics.failed.inc({ model, reason: 'malformed' });
        // Answer if we can tell whom to answer, so the caller fails now instead of at its deadline.
        const reply: InferenceReply | undefined = item.id ? { id: item.id, ok: false, code: 'INVALID_REQUEST', message: item.error } : undefined;
        done.push({ entryId: item.entryId, replyTo: item.replyTo, reply });
      } else if (item.request.deadline <= now) {
        // The API already answered 504; computing it would only delay live requests.
        metrics.expired.inc({ model });
        done.push({ entryId: item.entryId });
      } else {
        runnable.push({ entryId: item.entryId, request: item.request });
      }
    }
    if (runnable.length === 0) return done;
    // The model is taken once for the whole batch: preprocessing and inference use the same version.
    return this.opts.slot.use(async (loaded) => [...done, ...(await this.prepareAndRun(runnable, loaded, after))]);
  }

  private async prepareAndRun(runnable: Runnable[], loaded: LoadedModel, after: Promise<void>): Promise<Completion[]> {
    const { metrics, logger, model, maxInputPixels } = this.opts;
    const done: Completion[] = [];
    const prepared = await Promise.all(
      runnable.map((item) =>
        prepareExample(item.request.input, loaded.metadata, maxInputPixels).then(
          (example) => ({ item, example }),
          (err: unknown) => ({ item, error: err instanceof ExampleError ? err : new ExampleError('INVALID_REQUEST', String(err)) }),
        ),
      ),
    );
    const valid: Array<{ item: Runnable; example: Float32Array }> = [];
    for (const p of prepared) {
      if ('error' in p) {
        metrics.failed.inc({ model, reason: p.error.code.toLowerCase() });
        done.push(answer(p.item, { id: p.item.request.id, ok: false, code: p.error.code, message: p.error.message }));
      } else valid.push(p);
    }
    if (valid.length === 0) return done;

    await after;
    const started = Date.now();
    for (const { item } of valid) metrics.queueWait.observe({ model }, Math.max(0, started - item.request.enqueuedAt) / 1000);
    metrics.batchSize.observe({ model }, valid.length);
    const endTimer = metrics.inferenceDuration.startTimer({ model });
    try {
      const probabilities = await loaded.runner.probabilities(valid.map((v) => v.example));
      endTimer();
      // Each request's own top-k: all classes for the Open Inference Protocol, the default for /predict.
      const predictions = valid.map(({ item }, i) => topK(probabilities[i] ?? [], loaded.metadata.labels, item.request.k ?? TOP_K));
      const served = { name: loaded.ref.name, version: loaded.ref.version };
      valid.forEach(({ item }, i) => done.push(answer(item, { id: item.request.id, ok: true, model: served, predictions: predictions[i] ?? [] })));
      metrics.processed.inc({ model }, valid.length);
      logger.debug({ size: valid.length, requestIds: valid.map((v) => v.item.request.requestId), version: served.version }, 'batch answered');
    } catch (err) {
      logger.error({ err, size: valid.length, model }, 'inference run failed');
      metrics.failed.inc({ model, reason: 'inference_failed' }, valid.length);
      for (const { item } of valid) done.push(answer(item, { id: item.request.id, ok: false, code: 'INFERENCE_FAILED', message: 'The model failed to run' }));
    }
    return done;
  }

  private enter(phase: LoopPhase): void {
    this.phase = phase;
    this.phaseSince = Date.now();
  }
}

function answer(item: Runnable, reply: InferenceReply): Completion {
  return { entryId: item.entryId, replyTo: item.request.replyTo, reply };
}
