import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export const testRedisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test (or stack) uses. */
export const uniquePrefix = (name: string): string => `test:${name}:${randomUUID().slice(0, 8)}:`;

/** Deletes every key under `prefix`. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 5000 })) keys.push(...(batch as string[]));
  if (keys.length > 0) await redis.del(...keys);
}
