import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { DeadlineExceededError, InferenceFailedError, QueueClosedError, QueueFullError } from './errors';
import { ensureConsumerGroup } from './consumer-group';
import { queueKeys } from './keys';
import { decodeReply, encodeRequest, type InferenceReply, type InferenceSuccess } from './messages';
import { parseReadReply } from './stream-entries';

export interface InferenceClientOptions {
  /** Shared command connection (enqueue, XLEN). */
  redis: Redis;
  /** Dedicated connection for the blocking reply read; it is disconnected on close. */
  replyReader: Redis;
  prefix: string;
  /** Unique per process start, so this process's reply stream starts empty. */
  instanceId: string;
  /** Backlog at which enqueue fails with QueueFullError. */
  maxQueueLength: number;
  retryAfterSeconds: number;
  logger: Logger;
  /** How long one blocking XREAD waits before re-checking for shutdown. */
  readBlockMs?: number;
}

export interface InferInput {
  requestId: string;
  model: string;
  dims: number[];
  tensor: Float32Array;
  /** Epoch ms: after this the promise rejects with DeadlineExceededError. */
  deadline: number;
}

export type InferenceResult = Omit<InferenceSuccess, 'id' | 'ok'>;

interface Waiter {
  resolve(result: InferenceResult): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * Enqueue only if the backlog is below the bound, in one atomic step: a plain
 * XLEN-then-XADD would let concurrent API instances overshoot the bound.
 * Workers delete answered entries, so XLEN is the backlog.
 */
const ENQUEUE_IF_ROOM = `
local backlog = redis.call('XLEN', KEYS[1])
if backlog >= tonumber(ARGV[1]) then return {0, backlog} end
return {1, redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))}
`;

/**
 * The API side of the inference queue: enqueues requests and routes replies
 * from this instance's reply stream to the waiting callers. One blocking XREAD
 * loop serves all in-flight requests, so waiting costs no polling.
 */
export class InferenceClient {
  private readonly keys: ReturnType<typeof queueKeys>;
  private readonly replyKey: string;
  private readonly waiters = new Map<string, Waiter>();
  private loop: Promise<void> | null = null;
  private closed = false;

  constructor(private readonly opts: InferenceClientOptions) {
    this.keys = queueKeys(opts.prefix);
    this.replyKey = this.keys.replies(opts.instanceId);
  }

  /** Creates the consumer group if needed and starts routing replies. */
  async start(): Promise<void> {
    await ensureConsumerGroup(this.opts.redis, this.keys.requests);
    this.loop ??= this.readReplies();
  }

  /** Requests waiting for a reply. */
  get inFlight(): number {
    return this.waiters.size;
  }

  async queueDepth(): Promise<number> {
    return this.opts.redis.xlen(this.keys.requests);
  }

  async infer(input: InferInput): Promise<InferenceResult> {
    if (this.closed || this.loop === null) throw new QueueClosedError();
    const timeoutMs = Math.max(0, input.deadline - Date.now());
    if (timeoutMs === 0) throw new DeadlineExceededError(0);
    const id = randomUUID();
    // Register before enqueueing: a fast worker may answer before EVAL returns.
    const result = new Promise<InferenceResult>((resolve, reject) => {
      const timer = setTimeout(() => this.settle(id, new DeadlineExceededError(timeoutMs)), timeoutMs);
      this.waiters.set(id, { resolve, reject, timer });
    });
    try {
      const fields = encodeRequest({ ...input, id, replyTo: this.replyKey, enqueuedAt: Date.now() });
      const [added, backlog] = (await this.opts.redis.eval(ENQUEUE_IF_ROOM, 1, this.keys.requests, this.opts.maxQueueLength, ...fields)) as [
        number,
        number | string,
      ];
      if (added !== 1) throw new QueueFullError(Number(backlog), this.opts.retryAfterSeconds);
    } catch (err) {
      this.settle(id, err as Error);
    }
    return result;
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
    // The stream is new for this instance id, so reading from the start misses nothing.
    let lastId = '0-0';
    const blockMs = this.opts.readBlockMs ?? 5000;
    while (!this.closed) {
      try {
        const raw = await this.opts.replyReader.xreadBuffer('COUNT', 1000, 'BLOCK', blockMs, 'STREAMS', this.replyKey, lastId);
        for (const entry of parseReadReply(raw)) {
          lastId = entry.id;
          if (!entry.fields) continue;
          try {
            const reply = decodeReply(entry.fields);
            this.settle(reply.id, reply);
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
