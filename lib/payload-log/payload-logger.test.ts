import { Redis } from 'ioredis';
import type { RedisClient } from '../queue/redis-connection';
import { Registry } from 'prom-client';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { createLogger } from '../logger';
import { appendIfRoom } from './append-if-room';
import { payloadLogKeys, PAYLOAD_LOGGER_GROUP } from './keys';
import { createLoggerMetrics } from './logger-metrics';
import type { ParquetWriter } from './parquet-writer';
import { PayloadLogger } from './payload-logger';
import { toStreamFields, type PayloadEntry } from './records';
import { LogStreamReader } from './stream-reader';

/** A writer (the unit's collaborator) that fails its first `failures` writes and records the rest. */
function flakyWriter(failures: number) {
  const written: PayloadEntry[] = [];
  let calls = 0;
  const writer = {
    writePayloads: (_root: string, rows: PayloadEntry[]) => {
      calls += 1;
      if (calls <= failures) return Promise.reject(new Error('disk full'));
      written.push(...rows);
      return Promise.resolve(rows.length ? ['file.parquet'] : []);
    },
    writeFeedback: () => Promise.resolve([]),
  };
  return { writer: writer as unknown as ParquetWriter, written };
}

const entry = (id: string) =>
  toStreamFields({ request_id: id, model: 'm', version: '1', ts: Date.now(), height: 1, width: 2, channels: 1, pixels: Buffer.from([1, 2]), top_k: JSON.stringify([{ label: 'a', probability: 1 }]), latency_ms: 1 });

describe('PayloadLogger (real Redis, a flaky writer)', () => {
  let redis: RedisClient;
  let prefix: string;
  beforeEach(() => {
    redis = new Redis(testRedisUrl());
    prefix = uniquePrefix('payload-logger');
  });
  afterEach(async () => {
    await deletePrefix(redis, prefix);
    await redis.quit();
  });

  /** Runs a logger with `writer` (flushing every 10 ms) until model m's payload stream is empty, at most 5 s, then stops it. */
  async function drain({ writer, written }: ReturnType<typeof flakyWriter>) {
    const reader = new LogStreamReader({ redis, prefix, consumer: 'c1', claimIdleMs: 60_000 });
    const metrics = createLoggerMetrics(new Registry(), () => reader.backlog());
    const logger = new PayloadLogger({ reader, writer, root: '/unused', metrics, logger: createLogger('test', 'silent'), batchSize: 100, flushMs: 10, pollMs: 10, retentionDays: 30, retentionIntervalMs: 3_600_000, claimIntervalMs: 60_000 });
    logger.start();
    try {
      const until = Date.now() + 5000;
      while ((await redis.xlen(payloadLogKeys(prefix).payloads('m'))) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await logger.stop();
    }
    return { written, metrics };
  }

  it('acks only after a successful write: entries of a failed write stay pending and are written on the next round', async () => {
    const keys = payloadLogKeys(prefix);
    const append = appendIfRoom(redis);
    await redis.sadd(keys.models, 'm');
    for (const id of ['a', 'b', 'c']) expect(await append(keys.payloads('m'), 10, entry(id))).toBe(true);
    const { written, metrics } = await drain(flakyWriter(1));
    expect(written.map((r) => r.request_id).sort()).toEqual(['a', 'b', 'c']);
    expect((await metrics.errors.get()).values).toEqual([expect.objectContaining({ labels: { stage: 'write' }, value: 1 })]);
    expect(await redis.xpending(keys.payloads('m'), PAYLOAD_LOGGER_GROUP)).toEqual([0, null, null, null]);
  });

  it('writes and acks what it has buffered when stopped (graceful shutdown), before its flush interval', async () => {
    const keys = payloadLogKeys(prefix);
    const append = appendIfRoom(redis);
    await redis.sadd(keys.models, 'm');
    for (const id of ['a', 'b']) await append(keys.payloads('m'), 10, entry(id));
    const reader = new LogStreamReader({ redis, prefix, consumer: 'c1', claimIdleMs: 60_000 });
    const { writer, written } = flakyWriter(0);
    const logger = new PayloadLogger({ reader, writer, root: '/unused', metrics: createLoggerMetrics(new Registry(), () => reader.backlog()), logger: createLogger('test', 'silent'), batchSize: 100, flushMs: 600_000, pollMs: 10, retentionDays: 30, retentionIntervalMs: 3_600_000, claimIntervalMs: 60_000 });
    logger.start();
    try {
      // Both entries read (delivered to this consumer), none written yet: the flush interval is 10 minutes.
      const delivered = () => redis.xpending(keys.payloads('m'), PAYLOAD_LOGGER_GROUP).then((p) => (p as [number])[0], () => 0); // no group yet: 0
      const until = Date.now() + 5000;
      while ((await delivered()) < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(written).toEqual([]);
    } finally {
      await logger.stop();
    }
    expect(written.map((r) => r.request_id).sort()).toEqual(['a', 'b']);
    expect(await redis.xlen(keys.payloads('m'))).toBe(0);
  });

  it('refuses entries past the bound instead of trimming the backlog', async () => {
    const keys = payloadLogKeys(prefix);
    const append = appendIfRoom(redis);
    const added = [];
    for (let i = 0; i < 5; i++) added.push(await append(keys.payloads('m'), 3, entry(`r${i}`)));
    expect(added).toEqual([true, true, true, false, false]);
    const ids = (await redis.xrange(keys.payloads('m'), '-', '+')).map(([, fields]) => fields[1]);
    expect(ids).toEqual(['r0', 'r1', 'r2']); // the oldest, unwritten ones are kept
  });
});
