import { Redis } from 'ioredis';
import type { RedisClient } from '../queue/redis-connection';
import { deletePrefix, testRedisUrl, uniquePrefix } from '../../tests/support/redis';
import { fleetKeys, type WorkerStatus } from './protocol';
import { listWorkerStatuses, publishWorkerStatus } from './worker-statuses';

/** The worker index against the real Redis: listing reads it (never the keyspace) and prunes the dead. */
describe('listWorkerStatuses', () => {
  let redis: RedisClient;
  let prefix: string;
  beforeAll(() => {
    redis = new Redis(testRedisUrl());
  });
  afterAll(() => redis.disconnect());
  beforeEach(() => {
    prefix = uniquePrefix('worker-index');
  });
  afterEach(() => deletePrefix(redis, prefix));

  const status = (workerId: string): WorkerStatus => ({ workerId, state: 'ready', models: {}, startedAt: 1, updatedAt: Date.now() });
  const publish = (s: WorkerStatus, ttlMs: number) => publishWorkerStatus(redis, prefix, s, ttlMs);

  it('lists the live workers of the index, sorted, and prunes the ids whose status expired', async () => {
    await publish(status('w2'), 60_000);
    await publish(status('w1'), 60_000);
    await publish(status('gone'), 50);
    await new Promise((r) => setTimeout(r, 120));

    expect((await listWorkerStatuses(redis, prefix)).map((w) => w.workerId)).toEqual(['w1', 'w2']);
    expect((await redis.smembers(fleetKeys(prefix).workers)).sort()).toEqual(['w1', 'w2']);
  });

  it('does not see a status key outside the index (the index is the list), nor one that does not parse', async () => {
    await redis.set(fleetKeys(prefix).workerStatus('stray'), JSON.stringify(status('stray')), 'PX', 60_000);
    await publish(status('w1'), 60_000);
    await redis.multi().set(fleetKeys(prefix).workerStatus('bad'), '{"not":"a status"}', 'PX', 60_000).sadd(fleetKeys(prefix).workers, 'bad').exec();

    expect((await listWorkerStatuses(redis, prefix)).map((w) => w.workerId)).toEqual(['w1']);
    // A live key that does not parse stays indexed: it is skipped, not pruned.
    expect((await redis.smembers(fleetKeys(prefix).workers)).sort()).toEqual(['bad', 'w1']);
  });
});
