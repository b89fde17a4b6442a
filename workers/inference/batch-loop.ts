import type { Logger } from 'pino';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { PayloadLogWriter } from '../../lib/payload-log/payload-writer';
import type { PayloadEntry } from '../../lib/payload-log/records';
import type { InferenceReply } from '../../lib/queue/messages';
import type { Completion, Received, RequestConsumer } from '../../lib/queue/request-consumer';
import type { LoadedModel } from './model-loader';
import type { ModelSlot } from './model-slot';
import { runBatch, type RunContext, type Runnable } from './run-batch';
import { serveRouted } from './traffic-batch';

export interface BatchLoopOptions {
  /** The registered model whose stream this loop serves. */
  model: string;
  consumer: Pick<RequestConsumer, 'nextBatch' | 'complete' | 'giveBack'>;
  slot: ModelSlot;
  /** The traffic plan's candidate beside the champion (progressive rollouts); requests with a variant use it. */
  candidate?: ModelSlot;
  metrics: InferenceMetrics;
  logger: Logger;
  /** Pixel bound for uploads decoded here (DECODE_IN=worker). */
  maxInputPixels: number;
  /** Where the answered requests marked `log` go once their replies are out (none: they are not logged). */
  payloadLog?: Pick<PayloadLogWriter, 'write'>;
}

export type LoopPhase = 'waiting-for-model' | 'reading' | 'processing' | 'stopped';

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
  /** The last batch's shadow and mirror runs (see answer()). */
  private followUpTail: Promise<void> = Promise.resolve();

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
    await this.followUpTail;
    this.enter('stopped');
  }

  /** Prepares `batch`, runs it once `after` is done, replies; never rejects. */
  private async answer(batch: Received[], after: Promise<void>): Promise<void> {
    const since = Date.now();
    this.answering.add(since);
    const followUps: Array<() => Promise<void>> = [];
    const payloads: PayloadEntry[] = [];
    try {
      await this.opts.consumer.complete(await this.process(batch, after, followUps, payloads));
      // After the replies: the log never delays an answer (and an entry given back is logged when it is answered).
      if (payloads.length > 0) this.opts.payloadLog?.write(payloads);
    } catch (err) {
      // A failed reply, the model unloaded under the batch: the entries stay pending under our name and
      // the next read takes them from our own pending list (or another worker's reaper does).
      this.opts.consumer.giveBack(batch);
      this.opts.logger.error({ err, model: this.opts.model }, 'inference batch failed');
      followUps.length = 0;
    }
    // Shadow and mirror runs start once the replies went out, on a chain of their own: the next batch's
    // run does not wait for them (at one connection it would wait for every shadow run, which is the
    // whole cost of shadowing a fast model). They run on the other version's session thread. Bounded:
    // this batch counts as done (and the batch after the next may run) only once the follow-ups of the
    // batch before it have finished, so at most two batches' follow-ups are ever pending.
    const before = this.followUpTail;
    const mine = followUps.length === 0 ? before : before.then(() => this.runFollowUps(followUps));
    this.followUpTail = mine;
    try {
      await before;
    } finally {
      this.answering.delete(since);
    }
  }

  /** Runs one batch's shadow and mirror runs in order; never rejects. */
  private async runFollowUps(followUps: Array<() => Promise<void>>): Promise<void> {
    try {
      for (const run of followUps) await run();
    } catch (err) {
      this.opts.logger.warn({ err, model: this.opts.model }, 'a shadow or mirror run failed');
    }
  }

  /**
   * Decides the fate of every entry of a batch and runs the valid ones (also used for entries reclaimed from a dead worker).
   * Runs that must wait until the replies are sent (shadow, mirror) are pushed on `followUps`, and the payload-log
   * entries of requests marked `log` on `payloads` (both dropped when not given).
   */
  async process(batch: Received[], after: Promise<void> = Promise.resolve(), followUps?: Array<() => Promise<void>>, payloads?: PayloadEntry[]): Promise<Completion[]> {
    const { metrics, logger, model } = this.opts;
    const ctx = { ...this.opts, payloads };
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
    const { candidate } = this.opts;
    if (candidate && runnable.some((r) => r.request.variant !== undefined)) {
      const routed = await serveRouted({ ...ctx, champion: this.opts.slot, candidate }, runnable, after);
      if (routed.followUp) followUps?.push(routed.followUp);
      return [...done, ...routed.completions];
    }
    // The model is taken once for the whole batch: preprocessing and inference use the same version.
    return this.opts.slot.use(async (loaded) => [...done, ...(await this.prepareAndRun(ctx, runnable, loaded, after))]);
  }

  private async prepareAndRun(ctx: RunContext, runnable: Runnable[], loaded: LoadedModel, after: Promise<void>): Promise<Completion[]> {
    const { metrics, logger, model } = this.opts;
    const outcomes = await runBatch(ctx, runnable, loaded, after);
    const served = { name: loaded.ref.name, version: loaded.ref.version };
    let ok = 0;
    const done = outcomes.map(({ item, ...o }): Completion => {
      if (!o.ok) return answer(item, { id: item.request.id, ok: false, code: o.code, message: o.message });
      ok++;
      return answer(item, { id: item.request.id, ok: true, model: served, predictions: o.predictions });
    });
    if (ok > 0) {
      metrics.processed.inc({ model }, ok);
      logger.debug({ size: ok, version: served.version }, 'batch answered');
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
