import { randomUUID } from 'node:crypto';
import type { RedisClient } from './redis-connection';
import type { Logger } from 'pino';
import { enqueueIfRoom } from './enqueue-script';
import { DeadlineExceededError, InferenceFailedError, QueueClosedError, QueueFullError, QueueUnavailableError } from './errors';
import { queueKeys } from './keys';
import { decodeReplies, encodeRequest, type InferenceReply, type InferenceRequest, type InferenceSuccess, type RequestInput } from './messages';
import { parseReadReply } from './stream-entries';

export interface InferenceClientOptions {
  /** Shared command connection (fails fast while Redis is down; see createRedisConnection). */
  redis: RedisClient;
  /** Dedicated connection for the blocking reply read; it is disconnected on close. */
  replyReader: RedisClient;
  prefix: string;
  /** Names this process's reply stream (a per-start nonce is appended). */
  instanceId: string;
  /** Backlog per model at which enqueue fails with QueueFullError. */
  maxQueueLength: number;
  retryAfterSeconds: number;
  logger: Logger;
  /** How long one blocking XREAD waits before re-checking for shutdown. */
  readBlockMs?: number;
}

export interface InferItem {
  requestId: string;
  /** Registered model name: selects the model's request stream. */
  model: string;
  input: RequestInput;
  /** Epoch ms: after this the promise rejects with DeadlineExceededError. */
  deadline: number;
  /** A progressive rollout's routing of this request (see InferenceRequest). */
  variant?: InferenceRequest['variant'];
  candidateVersion?: string;
  /** Top-k of the reply (see InferenceRequest.k); the worker's default when absent. */
  k?: number;
  /** Sampled for the payload log (see InferenceRequest.log). */
  log?: boolean;
}

export type InferenceResult = Omit<InferenceSuccess, 'id' | 'ok'>;

interface Waiter {
  resolve(result: InferenceResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The API side of the inference queue: enqueues requests on their model's
 * stream and routes replies from this instance's reply stream to the waiting
 * callers. One blocking XREAD loop serves all in-flight requests, so waiting
 * costs no polling. If the connection to Redis drops, every request in flight
 * fails at once with QueueUnavailableError (Redis may have lost it) instead of
 * hanging until its deadline.
 */
export class InferenceClient {
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly replyKey: string;
  private readonly waiters = new Map<string, Waiter>();
  private readonly enqueue: ReturnType<typeof enqueueIfRoom>;
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: InferenceClientOptions) {
    this.keys = queueKeys(opts.prefix);
    // A fresh stream per process start, even when the instance id is fixed (the local stack names its APIs):
    // a restarted instance never reads its predecessor's replies.
    this.replyKey = this.keys.replies(`${opts.instanceId}:${randomUUID().slice(0, 8)}`);
    this.enqueue = enqueueIfRoom(opts.redis);
  }

  /** Starts routing replies. */
  start(): void {
    this.opts.replyReader.on('close', () => this.failInFlight('lost the connection to Redis'));
    this.loop ??= this.readReplies();
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.waiters.size;
  }

  async queueDepth(model: string): Promise<number> {
    return this.opts.redis.xlen(this.keys.requests(model));
  }

  async infer(item: InferItem): Promise<InferenceResult> {
    const [result] = await this.inferMany([item]);
    return result!;
  }

  /**
   * Enqueues every item at once (all or none: QueueFullError, QueueUnavailableError) and
   * returns one promise per item, settled by its reply, its deadline or a lost connection.
   * All items must be for the same model.
   */
  async inferMany(items: InferItem[]): Promise<Array<Promise<InferenceResult>>> {
    if (this.closed || this.loop === null) throw new QueueClosedError();
    const model = items[0]?.model;
    if (model === undefined) return [];
    if (items.some((i) => i.model !== model)) throw new Error('inferMany takes items of one model');
    const now = Date.now();
    const ids = items.map(() => randomUUID());
    // Register before enqueueing: a fast worker may answer before EVALSHA returns.
    const results = items.map((item, i) => this.wait(ids[i]!, Math.max(0, item.deadline - now)));
    // Handled from birth: a lost connection (failInFlight) can reject them while the enqueue below is
    // still awaited, before the caller holds them; unhandled, that rejection would crash the process.
    // The caller still sees each rejection when it awaits the promise.
    for (const r of results) r.catch(() => undefined);
    const entries = items.map((item, i) => encodeRequest({ ...item, id: ids[i]!, replyTo: this.replyKey, enqueuedAt: now }));
    try {
      const { added, backlog } = await this.enqueue(this.keys.requests(model), this.opts.maxQueueLength, entries);
      if (!added) throw new QueueFullError(backlog, this.opts.retryAfterSeconds);
    } catch (err) {
      const failure = err instanceof QueueFullError ? err : new QueueUnavailableError(this.opts.retryAfterSeconds, (err as Error).message);
      // The per-item promises are rejected too (already marked handled); the caller gets `failure` here.
      for (const id of ids) this.settle(id, failure);
      throw failure;
    }
    return results;
  }

  /** Stops routing replies; callers still waiting get QueueClosedError. Call after in-flight requests finished. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const id of [...this.waiters.keys()]) this.settle(id, new QueueClosedError());
    // Interrupts the blocking XREAD; the loop sees `closed` and ends.
    this.opts.replyReader.disconnect();
    await this.loop;
  }

  private wait(id: string, timeoutMs: number): Promise<InferenceResult> {
    return new Promise<InferenceResult>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new DeadlineExceededError(timeoutMs)), timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
  }

  private failInFlight(reason: string): void {
    if (this.closed || this.waiters.size === 0) return;
    this.opts.logger.warn({ inFlight: this.waiters.size }, `${reason}: failing in-flight requests`);
    for (const id of [...this.waiters.keys()]) this.settle(id, new QueueUnavailableError(this.opts.retryAfterSeconds, reason));
  }

  private settle(id: string, outcome: InferenceReply | Error): void {
    const waiter = this.waiters.get(id);
    if (!waiter) return; // late or duplicate reply (at-least-once delivery), or already timed out
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    if (outcome instanceof Error) waiter.reject(outcome);
    else if (outcome.ok) waiter.resolve({ model: outcome.model, predictions: outcome.predictions });
    else waiter.reject(new InferenceFailedError(outcome.code, outcome.message));
  }

  private async readReplies(): Promise<void> {
    // The stream is new for this instance id, so reading from the start misses nothing. Entry ids are
    // server-time based, so after a Redis restart new replies still sort after `lastId`.
    let lastId = '0-0';
    const blockMs = this.opts.readBlockMs ?? 5000;
    while (!this.closed) {
      try {
        const raw = await this.opts.replyReader.xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', this.replyKey, lastId);
        for (const entry of parseReadReply(raw)) {
          lastId = entry.id;
          if (!entry.fields) continue;
          try {
            for (const reply of decodeReplies(entry.fields)) this.settle(reply.id, reply);
          } catch (err) {
            this.opts.logger.error({ err, entryId: entry.id }, 'dropping malformed inference reply');
          }
        }
      } catch (err) {
        if (this.closed) break;
        this.opts.logger.warn({ err }, 'reading inference replies failed; retrying');
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }
}
