import type { RedisClient } from '../queue/redis-connection';
import { parseAutoClaimReply, parseReadReply, type StreamEntry } from '../queue/stream-entries';
import { PAYLOAD_LOGGER_GROUP, payloadLogKeys } from './keys';

export type LogTable = 'payloads' | 'feedback';

export interface LogStream {
  key: string;
  model: string;
  table: LogTable;
}

export interface ReadEntry extends StreamEntry {
  stream: LogStream;
}

const isNoGroup = (err: unknown) => err instanceof Error && err.message.includes('NOGROUP');

/**
 * The logger's side of the payload-log streams: discovers them (the models
 * set), keeps a consumer group on each, reads new entries, re-reads its own
 * unacknowledged ones after a restart or a failed write, claims those of a
 * logger that died (idle past `claimIdleMs`), and acks + deletes what has
 * been written, so a stream's length is its backlog. One stream per command:
 * each touches one model's slot, as a Redis Cluster requires.
 */
export class LogStreamReader {
  private readonly keys: ReturnType<typeof payloadLogKeys>;
  private readonly groups = new Set<string>();

  constructor(private readonly opts: { redis: RedisClient; prefix: string; consumer: string; claimIdleMs: number }) {
    this.keys = payloadLogKeys(opts.prefix);
  }

  async streams(): Promise<LogStream[]> {
    const models = (await this.opts.redis.smembers(this.keys.models)).sort();
    return models.flatMap((model) => [
      { key: this.keys.payloads(model), model, table: 'payloads' as const },
      { key: this.keys.feedbackStream(model), model, table: 'feedback' as const },
    ]);
  }

  /** Up to `count` entries over all streams: this consumer's pending ones when `pending`, else new ones. */
  async read(count: number, pending: boolean): Promise<ReadEntry[]> {
    const out: ReadEntry[] = [];
    for (const stream of await this.streams()) {
      if (out.length >= count) break;
      const raw = await this.withGroup(stream.key, () =>
        this.opts.redis.xreadgroupBuffer('GROUP', PAYLOAD_LOGGER_GROUP, this.opts.consumer, 'COUNT', count - out.length, 'STREAMS', stream.key, pending ? '0' : '>'),
      );
      for (const entry of parseReadReply(raw)) out.push({ ...entry, stream });
    }
    return out;
  }

  /** Entries other loggers read but never acknowledged within `claimIdleMs` (they died), now this consumer's. */
  async claimAbandoned(count: number): Promise<ReadEntry[]> {
    const out: ReadEntry[] = [];
    for (const stream of await this.streams()) {
      if (out.length >= count) break;
      const raw = await this.withGroup(stream.key, () =>
        // callBuffer: pixels are binary and ioredis declares no Buffer variant of XAUTOCLAIM (the connection is not auto-pipelined).
        this.opts.redis.callBuffer('XAUTOCLAIM', stream.key, PAYLOAD_LOGGER_GROUP, this.opts.consumer, this.opts.claimIdleMs, '0-0', 'COUNT', count - out.length),
      );
      for (const entry of parseAutoClaimReply(raw).entries) out.push({ ...entry, stream });
    }
    return out;
  }

  /** Acknowledges and deletes written entries (one stream per call). */
  async ack(stream: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.opts.redis.multi().xack(stream, PAYLOAD_LOGGER_GROUP, ...ids).xdel(stream, ...ids).exec();
  }

  /** Entries waiting per stream (written entries are deleted, so this is the backlog). */
  async backlog(): Promise<Array<{ stream: LogStream; length: number }>> {
    const streams = await this.streams();
    const lengths = await Promise.all(streams.map((s) => this.opts.redis.xlen(s.key)));
    return streams.map((stream, i) => ({ stream, length: lengths[i]! }));
  }

  /** Runs `op`, creating the group (from id 0, so nothing written before it is missed) when it is missing. */
  private async withGroup<T>(key: string, op: () => Promise<T>): Promise<T> {
    if (!this.groups.has(key)) await this.ensureGroup(key);
    try {
      return await op();
    } catch (err) {
      if (!isNoGroup(err)) throw err;
      this.groups.delete(key); // Redis restarted empty or the stream was deleted
      await this.ensureGroup(key);
      return op();
    }
  }

  private async ensureGroup(key: string): Promise<void> {
    try {
      await this.opts.redis.xgroup('CREATE', key, PAYLOAD_LOGGER_GROUP, '0', 'MKSTREAM');
    } catch (err) {
      if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
    }
    this.groups.add(key);
  }
}
