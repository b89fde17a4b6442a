import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { createLogger } from '../../lib/logger';
import { INFERENCE_GROUP, queueKeys } from '../../lib/queue/keys';
import { createRedisConnection, waitUntilReady } from '../../lib/queue/redis-connection';
import { RequestConsumer } from '../../lib/queue/request-consumer';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../support/redis';

jest.setTimeout(30_000);

const logger = createLogger('queue-delivery-test', 'silent');

/** Blocks this process's event loop for `ms`, as a synchronous onnxruntime run or model load does. */
const busyWait = (ms: number) => {
  const until = Date.now() + ms;
  while (Date.now() < until);
};

/**
 * The unanswered entry, reproduced: a blocking XREADGROUP is answered by Redis
 * (the entry moves to this consumer's pending list) while the worker's event
 * loop is busy in the check phase (where onnxruntime-node runs a session); when
 * the loop comes back, the timers phase runs before the socket is read, so
 * ioredis's client-side blocking timer (BLOCK + 100 ms by default) resolves the
 * read with null and the late reply is dropped. The entry is then pending under
 * a live consumer that never saw it, and `>` reads never deliver it again.
 */
describe('request stream delivery', () => {
  const prefix = uniquePrefix('delivery');
  const admin = new Redis(testRedisUrl());
  const writer = createRedisConnection({ REDIS_URL: testRedisUrl() }, { name: 'delivery-test:writer', logger });
  const closing: RedisClient[] = [admin, writer];

  afterAll(async () => {
    await deletePrefix(admin, prefix);
    await Promise.all(closing.map((c) => c.quit()));
  });

  /** Starts a blocking read, has another process add one entry 150 ms into it while this process is busy for 700 ms. */
  async function readThroughBusyLoop(consumer: RequestConsumer, stream: string) {
    const url = new URL(testRedisUrl());
    const xadd = spawn('sh', ['-c', `sleep 0.15 && redis-cli -h ${url.hostname} -p ${url.port || 6379} XADD ${stream} '*' id late-1`], { stdio: 'ignore' });
    const exited = new Promise((resolve) => xadd.on('exit', resolve));
    const read = consumer.nextBatch();
    await new Promise((r) => setTimeout(r, 20));
    await new Promise<void>((r) => setImmediate(() => r(busyWait(700))));
    const first = await read;
    await exited;
    return first;
  }

  async function setUp(model: string, reader: RedisClient) {
    closing.push(reader);
    const stream = queueKeys(prefix).requests(model);
    const consumer = new RequestConsumer({ reader, writer, prefix, model, consumer: 'w1', maxBatchSize: 8, maxBatchWaitMs: 0, blockMs: 300, logger });
    await Promise.all([waitUntilReady(writer, 5000), waitUntilReady(reader, 5000)]);
    await consumer.init();
    // An idle read first, so the consumer is past its start-up look at its own history, in its steady state.
    expect(await consumer.nextBatch()).toEqual([]);
    return { consumer, stream };
  }

  it('delivers an entry whose read reply was dropped by the client (ioredis default grace): from its own pending history', async () => {
    const reader = new Redis(testRedisUrl(), { maxRetriesPerRequest: null, blockingTimeout: 30_000 });
    const { consumer, stream } = await setUp('dropped', reader);
    const first = await readThroughBusyLoop(consumer, stream);

    // Redis delivered it to w1: it is in w1's pending list whatever the client made of the reply.
    const pending = (await admin.xpending(stream, INFERENCE_GROUP, '-', '+', 10, 'w1')) as Array<[string, string, number, number]>;
    expect(pending).toHaveLength(1);
    expect(first).toEqual([]);

    const delivered = await consumer.nextBatch();
    expect(delivered.map((d) => d.entryId)).toEqual([pending[0]![0]]);
    expect(consumer.recovered).toBe(1);
    // Handed out once: while we work on it, our history does not give it out again.
    expect(await consumer.nextBatch()).toEqual([]);
  });

  it('does not drop the reply in the first place with the serving connection settings', async () => {
    const reader = createRedisConnection({ REDIS_URL: testRedisUrl() }, { name: 'delivery-test:reader', logger, role: 'blocking' });
    const { consumer, stream } = await setUp('kept', reader);
    const first = await readThroughBusyLoop(consumer, stream);
    expect(first).toHaveLength(1);
    expect(consumer.recovered).toBe(0);
  });
});
