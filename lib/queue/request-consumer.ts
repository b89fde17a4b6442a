import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { collectBatch } from './collect-batch';
import { ensureConsumerGroup } from './consumer-group';
import { INFERENCE_GROUP, queueKeys, REPLY_STREAM_MAXLEN, REPLY_STREAM_TTL_SECONDS } from './keys';
import { decodeRequest, encodeReply, type InferenceReply, type InferenceRequest } from './messages';
import { parseAutoClaimReply, parseReadReply, type StreamEntry } from './stream-entries';

export interface RequestConsumerOptions {
  /** Connection for the blocking XREADGROUP and XAUTOCLAIM (both issued by the batch loop only). */
  reader: Redis;
  /** Connection for replies and acknowledgements. */
  writer: Redis;
  prefix: string;
  /** Consumer name in the group; the worker id. */
  consumer: string;
  maxBatchSize: number;
  maxBatchWaitMs: number;
  /** Entries pending this long on another consumer are considered abandoned and taken over. */
  claimIdleMs: number;
  /** How long an idle read blocks; bounds how quickly shutdown and claims are noticed. */
  blockMs?: number;
  logger: Logger;
}

/**
 * A delivered entry: decoded, or the reason it could not be (with where to
 * send an error reply, when at least that much is readable).
 */
export type Received =
  | { entryId: string; request: InferenceRequest }
  | { entryId: string; request: null; error: string; replyTo?: string; id?: string };

/** What to do with an entry once handled: answer it (then ack), or just ack it. */
export interface Completion {
  entryId: string;
  replyTo?: string;
  reply?: InferenceReply;
}

/**
 * The worker side of the inference queue: a consumer in the group, reading
 * dynamic batches, taking over entries abandoned by dead consumers, and
 * answering. At-least-once: an entry is acknowledged (and deleted, so the
 * stream length stays the backlog) only in the same MULTI that writes its reply.
 */
export class RequestConsumer {
  private readonly requestsKey: string;
  private lastClaimAt = 0;

  constructor(private readonly opts: RequestConsumerOptions) {
    this.requestsKey = queueKeys(opts.prefix).requests;
  }

  async init(): Promise<void> {
    await ensureConsumerGroup(this.opts.writer, this.requestsKey);
  }

  /**
   * The next batch to process: abandoned entries first (checked every half
   * CLAIM_IDLE_MS), else a dynamic batch of new ones. May be empty.
   */
  async nextBatch(): Promise<Received[]> {
    const now = Date.now();
    if (now - this.lastClaimAt >= this.opts.claimIdleMs / 2) {
      this.lastClaimAt = now;
      const claimed = await this.claimAbandoned();
      // A full page may mean more abandoned entries: look again on the next call.
      if (claimed.length >= this.opts.maxBatchSize) this.lastClaimAt = 0;
      if (claimed.length > 0) return claimed;
    }
    const entries = await collectBatch((count, blockMs) => this.read(count, blockMs), {
      maxBatchSize: this.opts.maxBatchSize,
      maxWaitMs: this.opts.maxBatchWaitMs,
      blockMs: this.opts.blockMs ?? 1000,
      arrivedAt: (e) => e.arrivedAt,
    });
    return entries.map((e) => e.received);
  }

  /** Replies and acknowledges atomically; replies go first so a crash in between can only duplicate, never lose. */
  async complete(done: Completion[]): Promise<void> {
    if (done.length === 0) return;
    const tx = this.opts.writer.multi();
    const replyStreams = new Set<string>();
    for (const item of done) {
      if (item.reply && item.replyTo) {
        tx.xadd(item.replyTo, 'MAXLEN', '~', REPLY_STREAM_MAXLEN, '*', ...encodeReply(item.reply));
        replyStreams.add(item.replyTo);
      }
    }
    for (const stream of replyStreams) tx.expire(stream, REPLY_STREAM_TTL_SECONDS);
    const ids = done.map((d) => d.entryId);
    tx.xack(this.requestsKey, INFERENCE_GROUP, ...ids);
    tx.xdel(this.requestsKey, ...ids);
    const results = await tx.exec();
    const failed = results?.find(([err]) => err);
    if (!results || failed) throw failed?.[0] ?? new Error('reply transaction aborted');
  }

  /** Removes this consumer from the group if it holds no pending entries (clean shutdown). */
  async leaveGroup(): Promise<void> {
    const pending = await this.opts.writer.xpending(this.requestsKey, INFERENCE_GROUP, '-', '+', 1, this.opts.consumer);
    if (Array.isArray(pending) && pending.length === 0) {
      await this.opts.writer.xgroup('DELCONSUMER', this.requestsKey, INFERENCE_GROUP, this.opts.consumer);
    }
  }

  private async read(count: number, blockMs: number): Promise<Array<{ received: Received; arrivedAt: number }>> {
    let raw: unknown;
    try {
      raw = await this.opts.reader.xreadgroupBuffer(
        'GROUP', INFERENCE_GROUP, this.opts.consumer,
        'COUNT', count, 'BLOCK', blockMs,
        'STREAMS', this.requestsKey, '>',
      ); // prettier-ignore
    } catch (err) {
      // The stream (and its group) was deleted, e.g. by a FLUSHDB: recreate and read again next time.
      if (err instanceof Error && err.message.includes('NOGROUP')) {
        this.opts.logger.warn('inference consumer group missing; recreating it');
        await this.init();
        return [];
      }
      throw err;
    }
    return parseReadReply(raw).map((entry) => {
      const received = this.decode(entry);
      return { received, arrivedAt: received.request?.enqueuedAt ?? Date.now() };
    });
  }

  private async claimAbandoned(): Promise<Received[]> {
    // callBuffer: ioredis declares no Buffer variant of XAUTOCLAIM, and the tensor field is binary.
    const raw = await this.opts.reader.callBuffer(
      'XAUTOCLAIM', this.requestsKey, INFERENCE_GROUP, this.opts.consumer, this.opts.claimIdleMs, '0-0', 'COUNT', this.opts.maxBatchSize,
    ); // prettier-ignore
    const { entries } = parseAutoClaimReply(raw);
    if (entries.length > 0) this.opts.logger.warn({ count: entries.length }, 'took over abandoned inference requests');
    return entries.map((e) => this.decode(e));
  }

  private decode(entry: StreamEntry): Received {
    if (!entry.fields) return { entryId: entry.id, request: null, error: 'entry was deleted' };
    try {
      return { entryId: entry.id, request: decodeRequest(entry.fields) };
    } catch (err) {
      return {
        entryId: entry.id,
        request: null,
        error: (err as Error).message,
        replyTo: entry.fields.get('reply')?.toString('utf8'),
        id: entry.fields.get('id')?.toString('utf8'),
      };
    }
  }
}
