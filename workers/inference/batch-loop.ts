import type { Logger } from 'pino';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { InferenceReply, InferenceRequest } from '../../lib/queue/messages';
import type { Completion, Received, RequestConsumer } from '../../lib/queue/request-consumer';
import type { LoadedModel } from './model-loader';
import type { ModelSlot } from './model-slot';

const TOP_K = 5;

export interface BatchLoopOptions {
  consumer: Pick<RequestConsumer, 'nextBatch' | 'complete'>;
  slot: ModelSlot;
  metrics: InferenceMetrics;
  logger: Logger;
}

/**
 * The worker's main loop: wait for a model, take a batch off the queue, skip
 * what expired, answer the rest with one onnxruntime run. `stop()` lets the
 * current batch finish and be answered before `run()` resolves.
 */
export class BatchLoop {
  private readonly abort = new AbortController();

  constructor(private readonly opts: BatchLoopOptions) {}

  stop(): void {
    this.abort.abort();
  }

  get stopping(): boolean {
    return this.abort.signal.aborted;
  }

  async run(): Promise<void> {
    const { slot, consumer, logger } = this.opts;
    while (!this.stopping) {
      await slot.ready(this.abort.signal);
      if (this.stopping) break;
      try {
        const batch = await consumer.nextBatch();
        if (batch.length > 0) await consumer.complete(await this.process(batch));
      } catch (err) {
        // Redis hiccup or a failed reply: unacknowledged entries are retried (by us or by another worker's claim).
        logger.error({ err }, 'inference batch failed');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Decides the fate of every entry of a batch and runs the valid ones. Exported for tests through the class. */
  async process(batch: Received[]): Promise<Completion[]> {
    const { metrics, logger } = this.opts;
    const now = Date.now();
    const done: Completion[] = [];
    const runnable: Array<{ entryId: string; request: InferenceRequest }> = [];
    for (const item of batch) {
      if (item.request === null) {
        logger.warn({ entryId: item.entryId, error: item.error }, 'malformed inference request');
        metrics.failed.inc({ reason: 'malformed' });
        // Answer if we can tell whom to answer, so the caller fails now instead of at its deadline.
        const reply: InferenceReply | undefined = item.id ? { id: item.id, ok: false, code: 'INVALID_REQUEST', message: item.error } : undefined;
        done.push({ entryId: item.entryId, replyTo: item.replyTo, reply });
      } else if (item.request.deadline <= now) {
        // The API already answered 504; computing it would only delay live requests.
        metrics.expired.inc();
        done.push({ entryId: item.entryId });
      } else {
        runnable.push({ entryId: item.entryId, request: item.request });
      }
    }
    if (runnable.length === 0) return done;

    return this.opts.slot.use(async (model) => {
      const valid: typeof runnable = [];
      for (const item of runnable) {
        const problem = this.incompatibility(item.request, model);
        if (problem) {
          metrics.failed.inc({ reason: problem.code.toLowerCase() });
          done.push(this.answer(item, { id: item.request.id, ok: false, ...problem }));
        } else valid.push(item);
      }
      if (valid.length === 0) return done;

      const started = Date.now();
      for (const item of valid) metrics.queueWait.observe(Math.max(0, started - item.request.enqueuedAt) / 1000);
      metrics.batchSize.observe(valid.length);
      const endTimer = metrics.inferenceDuration.startTimer();
      try {
        const predictions = await model.runner.predict(
          valid.map((v) => v.request.tensor),
          TOP_K,
        );
        endTimer();
        const served = { name: model.ref.name, version: model.ref.version };
        valid.forEach((item, i) => done.push(this.answer(item, { id: item.request.id, ok: true, model: served, predictions: predictions[i] ?? [] })));
        metrics.processed.inc(valid.length);
        logger.debug({ size: valid.length, requestIds: valid.map((v) => v.request.requestId), version: served.version }, 'batch answered');
      } catch (err) {
        logger.error({ err, size: valid.length }, 'inference run failed');
        metrics.failed.inc({ reason: 'inference_failed' }, valid.length);
        for (const item of valid) done.push(this.answer(item, { id: item.request.id, ok: false, code: 'INFERENCE_FAILED', message: 'The model failed to run' }));
      }
      return done;
    });
  }

  private answer(item: { entryId: string; request: InferenceRequest }, reply: InferenceReply): Completion {
    return { entryId: item.entryId, replyTo: item.request.replyTo, reply };
  }

  private incompatibility(request: InferenceRequest, model: LoadedModel): { code: 'MODEL_MISMATCH' | 'INVALID_REQUEST'; message: string } | null {
    if (request.model !== model.ref.name) {
      return { code: 'MODEL_MISMATCH', message: `preprocessed for model ${request.model}, this worker serves ${model.ref.name}` };
    }
    const [batch, ...example] = request.dims;
    const expected = [model.metadata.input.channels, model.metadata.input.height, model.metadata.input.width];
    if (batch !== 1 || example.join('x') !== expected.join('x')) {
      return { code: 'INVALID_REQUEST', message: `tensor dims ${request.dims.join('x')} do not match model input 1x${expected.join('x')}` };
    }
    return null;
  }
}
