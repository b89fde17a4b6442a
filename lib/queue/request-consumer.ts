import type { ChainableCommander } from 'ioredis';
import { isCluster, type RedisClient } from './redis-connection';
import type { Logger } from 'pino';
import { collectBatch } from './collect-batch';
import { ensureConsumerGroup, isNoGroupError } from './consumer-group';
import { INFERENCE_GROUP, queueKeys, REPLY_STREAM_MAXLEN, REPLY_STREAM_TTL_SECONDS } from './keys';
import { decodeRequest, encodeReplies, type InferenceReply, type InferenceRequest } from './messages';
import { parseEntries, parseReadReply, type StreamEntry } from './stream-entries';

export interface RequestConsumerOptions {
  /** Dedicated connection for the blocking XREADGROUP of this model's stream. */
  reader: RedisClient;
  /** Shared command connection (replies, acknowledgements, claims). */
  writer: RedisClient;
  prefix: string;
  /** The registered model whose request stream this consumer reads. */
  model: string;
  /** Consumer name in the group; the worker id (also the key of its liveness). */
  consumer: string;
  maxBatchSize: number;
  maxBatchWaitMs: number;
  /** How long an idle read blocks; bounds how quickly a stop is noticed. */
  blockMs?: number;
  /** Called with the number of entries recovered from our own pending history (a metric). */
  onRecovered?: (count: number) => void;
  logger: Logger;
}

const REMOVE_IF_IDLE = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return 0 end
redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
return 1
`;

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

export interface ConsumerInfo {
  name: string;
  pending: number;
  idleMs: number;
}

/**
 * The worker side of one model's request stream: a consumer in the group,
 * reading dynamic batches and answering them. At-least-once: an entry is
 * acknowledged (and deleted, so the stream length stays the backlog) only in
 * the same MULTI that writes its reply; entries of a consumer that died are
 * taken over with `claimFrom` (see the worker's reaper).
 *
 * Entries pending under this consumer that it is not working on are taken
 * up again (listed with XPENDING, read with XRANGE): Redis can deliver an
 * entry whose reply never reaches the caller (ioredis resolves a blocking
 * read with null when its client-side timer fires before a reply it has not
 * read yet, which happens whenever the event loop was busy past the read's
 * end; a reply lost with a connection; a batch that failed before it was
 * answered; a previous process under the same name). `>` never delivers such
 * an entry again, so the consumer looks at its own pending list after every read
 * that returned nothing, after every failure and reconnect, at start, and
 * when the reaper sees more pending under our name than we hold.
 */
export class RequestConsumer {
  readonly stream: string;
  /** Entries handed out (read or claimed) and not yet completed or given back. */
  private readonly inFlight = new Set<string>();
  /** Whether our own pending history may hold entries nobody here is working on. */
  private recoverOwn = true;
  /** Entries recovered from our own pending list (delivered before, then lost on the way). */
  recovered = 0;

  constructor(private readonly opts: RequestConsumerOptions) {
    this.stream = queueKeys(opts.prefix).requests(opts.model);
    opts.reader.on('ready', () => (this.recoverOwn = true));
  }

  /** How many entries this consumer is working on now. */
  get holding(): number {
    return this.inFlight.size;
  }

  /** Asks for a look at our own pending history before the next read (the reaper saw more pending than we hold). */
  checkOwnPending(): void {
    this.recoverOwn = true;
  }

  /** Entries handed out that will not be completed here (their batch failed): the next read recovers them. */
  giveBack(entries: Array<{ entryId: string }>): void {
    for (const e of entries) this.inFlight.delete(e.entryId);
    this.recoverOwn = true;
  }

  async init(): Promise<void> {
    await ensureConsumerGroup(this.opts.writer, this.stream);
  }

  /** The next dynamic batch of new requests (see collectBatch). May be empty after an idle block. */
  async nextBatch(): Promise<Received[]> {
    let entries: Array<{ received: Received; arrivedAt: number }>;
    try {
      if (this.recoverOwn) {
        const own = await this.readOwnPending(this.opts.maxBatchSize);
        if (own.length > 0) return this.handOut(own).map((e) => e.received);
      }
      entries = await collectBatch((count, blockMs) => this.read(count, blockMs), {
        maxBatchSize: this.opts.maxBatchSize,
        maxWaitMs: this.opts.maxBatchWaitMs,
        blockMs: this.opts.blockMs ?? 1000,
        arrivedAt: (e) => e.arrivedAt,
      });
    } catch (err) {
      // A read may have been delivered and its reply lost with the connection.
      this.recoverOwn = true;
      throw err;
    }
    // Nothing came back: a reply dropped by a client-side timeout looks exactly like this.
    if (entries.length === 0) this.recoverOwn = true;
    return this.handOut(entries).map((e) => e.received);
  }

  /**
   * Replies, then acknowledges: a crash in between can only duplicate a reply, never lose one. On one Redis
   * both go in one MULTI (one round trip, atomic). On a cluster the caller's reply stream and the model's
   * stream live in different slots, which no MULTI may span: each reply stream gets its own MULTI, and the
   * acknowledgement follows once they all succeeded. The replies for one API instance travel as one entry.
   */
  async complete(done: Completion[]): Promise<void> {
    if (done.length === 0) return;
    const byStream = new Map<string, InferenceReply[]>();
    for (const item of done) {
      if (item.reply && item.replyTo) byStream.set(item.replyTo, [...(byStream.get(item.replyTo) ?? []), item.reply]);
    }
    const ids = done.map((d) => d.entryId);
    const { writer } = this.opts;
    const reply = (tx: ChainableCommander, stream: string, replies: InferenceReply[]) =>
      tx.xadd(stream, 'MAXLEN', '~', REPLY_STREAM_MAXLEN, '*', ...encodeReplies(replies)).expire(stream, REPLY_STREAM_TTL_SECONDS);
    const ack = (tx: ChainableCommander) => tx.xack(this.stream, INFERENCE_GROUP, ...ids).xdel(this.stream, ...ids);
    try {
      if (isCluster(writer)) {
        await Promise.all([...byStream].map(([stream, replies]) => execOrThrow(reply(writer.multi(), stream, replies))));
        await execOrThrow(ack(writer.multi()));
      } else {
        const tx = writer.multi();
        for (const [stream, replies] of byStream) reply(tx, stream, replies);
        await execOrThrow(ack(tx));
      }
    } catch (err) {
      // Still pending under our name: recovered by the next read, and answered again.
      this.recoverOwn = true;
      throw err;
    } finally {
      for (const id of ids) this.inFlight.delete(id);
    }
  }

  /** The group's consumers with their pending counts (XINFO CONSUMERS); empty when the group is gone. */
  async consumers(): Promise<ConsumerInfo[]> {
    let raw: unknown;
    try {
      raw = await this.opts.writer.xinfo('CONSUMERS', this.stream, INFERENCE_GROUP);
    } catch (err) {
      if (isNoGroupError(err)) return [];
      throw err;
    }
    if (!Array.isArray(raw)) return [];
    return raw.flatMap((item: unknown) => {
      if (!Array.isArray(item)) return [];
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < item.length; i += 2) fields.set(String(item[i]), item[i + 1]);
      return [{ name: String(fields.get('name')), pending: Number(fields.get('pending') ?? 0), idleMs: Number(fields.get('idle') ?? 0) }];
    });
  }

  /**
   * Takes over up to `count` entries pending on `consumer` that were delivered at least
   * `minIdleMs` ago. The idle bound makes concurrent takeovers safe: a claim resets the
   * idle time, so a second live worker racing for the same entries gets none of them.
   */
  async claimFrom(consumer: string, minIdleMs: number, count: number): Promise<Received[]> {
    const pending = (await this.opts.writer.xpending(this.stream, INFERENCE_GROUP, 'IDLE', minIdleMs, '-', '+', count, consumer));
    const ids = pending.flatMap((p) => (Array.isArray(p) ? [String(p[0])] : []));
    if (ids.length === 0) return [];
    // callBuffer: the pixel field is binary, and ioredis declares no Buffer variant of XCLAIM.
    const raw = await this.opts.writer.callBuffer('XCLAIM', this.stream, INFERENCE_GROUP, this.opts.consumer, minIdleMs, ...ids);
    const entries = parseEntries(raw);
    // Entries deleted while pending (answered by their owner just before it died) come back empty: just ack them.
    return this.handOut(entries.map((e) => ({ received: this.decode(e) }))).map((e) => e.received);
  }

  /**
   * Removes a consumer from the group; refuses (returns false) while it still has pending entries, which
   * would be lost. One script, so a worker restarted under that name cannot read entries between the check
   * and the removal.
   */
  async removeConsumer(consumer: string): Promise<boolean> {
    return (await this.opts.writer.eval(REMOVE_IF_IDLE, 1, this.stream, INFERENCE_GROUP, consumer)) === 1;
  }

  /** Leaves the group on a clean shutdown (if nothing is pending on us). */
  async leaveGroup(): Promise<void> {
    await this.removeConsumer(this.opts.consumer);
  }

  /** Marks entries as ours to complete; an entry already being worked on here is not handed out twice. */
  private handOut<T extends { received: Received }>(entries: T[]): T[] {
    const fresh = entries.filter((e) => !this.inFlight.has(e.received.entryId));
    for (const e of fresh) this.inFlight.add(e.received.entryId);
    return fresh;
  }

  /**
   * Up to `count` entries pending under our own name that nobody here works on, oldest first. Listed with
   * XPENDING and read with XRANGE, neither of which touches the pending list: reading our history with
   * XREADGROUP would reset the entries' idle time, and a worker whose batch is stuck (its entries still
   * pending under its name) would then keep them from the other workers' reapers forever. Clears the
   * recovery flag once nothing more of that kind is pending.
   */
  private async readOwnPending(count: number): Promise<Array<{ received: Received; arrivedAt: number }>> {
    const { writer, consumer } = this.opts;
    let pending: unknown[];
    try {
      pending = await writer.xpending(this.stream, INFERENCE_GROUP, '-', '+', count + this.inFlight.size, consumer);
    } catch (err) {
      if (!isNoGroupError(err)) throw err;
      // Redis lost the stream: a new group has nothing pending of ours.
      await this.init();
      this.recoverOwn = false;
      return [];
    }
    const ids = pending.flatMap((p) => (Array.isArray(p) ? [String(p[0])] : [])).filter((id) => !this.inFlight.has(id));
    if (ids.length <= count) this.recoverOwn = false;
    if (ids.length === 0) return [];
    const taken = ids.slice(0, count);
    const tx = writer.pipeline();
    for (const id of taken) tx.xrangeBuffer(this.stream, id, id);
    const rows = (await tx.exec()) ?? [];
    const found = taken.map((id, i) => {
      const [err, raw] = rows[i] ?? [new Error('no reply'), null];
      // An entry deleted while pending (answered elsewhere) reads as empty: it is acknowledged, not run.
      const entry = err ? { id, fields: null } : (parseEntries(raw)[0] ?? { id, fields: null });
      return { received: this.decode(entry), arrivedAt: Date.now() };
    });
    this.recovered += found.length;
    this.opts.onRecovered?.(found.length);
    this.opts.logger.warn({ model: this.opts.model, count: found.length }, 'recovered requests pending under this worker that it was not working on');
    return found;
  }

  private async read(count: number, blockMs: number | null): Promise<Array<{ received: Received; arrivedAt: number }>> {
    let raw: unknown;
    try {
      const { reader, consumer } = this.opts;
      raw =
        blockMs === null
          ? await reader.xreadgroupBuffer('GROUP', INFERENCE_GROUP, consumer, 'COUNT', count, 'STREAMS', this.stream, '>')
          : await reader.xreadgroupBuffer('GROUP', INFERENCE_GROUP, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.stream, '>');
    } catch (err) {
      // The stream (and its group) is gone, e.g. Redis restarted empty: recreate and read again next time.
      if (isNoGroupError(err)) {
        this.opts.logger.warn({ stream: this.stream }, 'inference consumer group missing; recreating it');
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

/** Runs a MULTI; throws its first failed command's error (or an abort) instead of returning it in the results. */
async function execOrThrow(tx: ChainableCommander): Promise<void> {
  const results = await tx.exec();
  const failed = results?.find(([err]) => err);
  if (!results || failed) throw failed?.[0] ?? new Error('reply transaction aborted');
}
