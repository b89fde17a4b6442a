import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { deleteKeys, scanKeys } from '../../lib/queue/redis-keyspace';

export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or stack) uses. */
export const uniquePrefix = (name: string): string => `test:${name}:${randomUUID().slice(0, 8)}:`;

/** Deletes every key under `prefix`. */
export async function deletePrefix(redis: RedisClient, prefix: string): Promise<void> {
  await deleteKeys(redis, await scanKeys(redis, `${prefix}*`, 5000));
}
