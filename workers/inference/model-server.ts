import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { PayloadLogWriter } from '../../lib/payload-log/payload-writer';
import { RequestConsumer } from '../../lib/queue/request-consumer';
import { BatchLoop } from './batch-loop';
import { ModelSlot } from './model-slot';

export interface ModelServerOptions {
  model: string;
  workerId: string;
  prefix: string;
  /** A dedicated blocking connection for this model's stream (closed by the server). */
  reader: RedisClient;
  /** The worker's shared command connection. */
  writer: RedisClient;
  maxBatchSize: number;
  maxBatchWaitMs: number;
  maxInputPixels: number;
  readBlockMs?: number;
  metrics: InferenceMetrics;
  /** The worker's payload-log writer (requests marked `log`). */
  payloadLog?: Pick<PayloadLogWriter, 'write'>;
  logger: Logger;
}

/**
 * Everything one worker needs to serve one registered model: the slot holding
 * the loaded version, the consumer of the model's request stream and the batch
 * loop between them. A worker runs one per served model.
 */
export class ModelServer {
  readonly name: string;
  readonly slot: ModelSlot;
  /** A progressive rollout's candidate, loaded beside the champion while the fleet has a traffic plan for the model. */
  readonly candidate: ModelSlot;
  readonly consumer: RequestConsumer;
  readonly loop: BatchLoop;
  private loopDone: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ModelServerOptions) {
    this.name = opts.model;
    this.slot = new ModelSlot(opts.logger);
    this.candidate = new ModelSlot(opts.logger);
    this.consumer = new RequestConsumer({
      reader: opts.reader,
      writer: opts.writer,
      prefix: opts.prefix,
      model: opts.model,
      consumer: opts.workerId,
      maxBatchSize: opts.maxBatchSize,
      maxBatchWaitMs: opts.maxBatchWaitMs,
      blockMs: opts.readBlockMs,
      onRecovered: (count) => opts.metrics.recovered.inc({ model: opts.model }, count),
      logger: opts.logger,
    });
    this.loop = new BatchLoop({
      model: opts.model,
      consumer: this.consumer,
      slot: this.slot,
      candidate: this.candidate,
      metrics: opts.metrics,
      logger: opts.logger,
      maxInputPixels: opts.maxInputPixels,
      payloadLog: opts.payloadLog,
    });
  }

  /** Joins the model's consumer group (created if missing; Redis may be down, the loop recreates it) and starts the loop. */
  async start(): Promise<void> {
    await this.consumer.init().catch((err: Error) => this.opts.logger.warn({ err, model: this.name }, 'cannot create the consumer group yet'));
    this.loopDone = this.loop.run();
  }

  /**
   * True when the loop has not come round for `stallMs` although it could:
   * stuck in a batch, or in a read while Redis is up. Waiting for a model or
   * for Redis to come back is not a stall.
   */
  stalled(stallMs: number, readBlockMs: number, now = Date.now()): boolean {
    const { phase, phaseSince, busySince } = this.loop;
    if (busySince !== null && now - busySince > stallMs) return true;
    if (phase === 'processing') return now - phaseSince > stallMs;
    if (phase === 'reading') return this.opts.reader.status === 'ready' && now - phaseSince > readBlockMs + stallMs;
    return false;
  }

  /** Finishes and answers the batch in progress within `timeoutMs`; false if it did not. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.loop.stop();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([this.loopDone.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(timer);
    return finished;
  }

  /** After a drain: leave the group (if nothing is pending on us), release the model, close the connection. */
  async close(): Promise<void> {
    await this.consumer.leaveGroup().catch((err: Error) => this.opts.logger.warn({ err, model: this.name }, 'leaving the consumer group failed'));
    this.slot.clear();
    this.candidate.clear();
    await this.opts.reader.quit().catch(() => this.opts.reader.disconnect());
  }

  /** Hard stop: unanswered entries stay pending for other workers to reclaim. */
  abort(): void {
    this.loop.stop();
    this.opts.reader.disconnect();
  }
}
