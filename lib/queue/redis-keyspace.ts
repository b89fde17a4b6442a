import type { Redis } from 'ioredis';
import { isCluster, type RedisClient } from './redis-connection';

/**
 * Keys matching `pattern`, by SCAN (never KEYS, which blocks Redis for the whole keyspace). On a cluster every
 * master holds part of the keyspace, so each is scanned in turn.
 */
export async function scanKeys(redis: RedisClient, pattern: string, count = 1000): Promise<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes('master') : [redis];
  const keys: string[] = [];
  for (const node of nodes) {
    for await (const batch of node.scanStream({ match: pattern, count })) keys.push(...(batch as string[]));
  }
  return keys;
}

/** Deletes `keys`: in one command on a single Redis, one command per key on a cluster (keys of many slots). */
export async function deleteKeys(redis: RedisClient, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  if (isCluster(redis)) await Promise.all(keys.map((key) => redis.del(key)));
  else await redis.del(...keys);
}
