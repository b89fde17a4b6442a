import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { parseActiveModel } from '../model/active-model';
import { fleetKeys, type ActiveModel } from './protocol';

const isWrongType = (err: unknown) => err instanceof Error && err.message.startsWith('WRONGTYPE');

/**
 * Runs `op` on the `active` key; if Redis holds something else under that name (an older
 * layout, a stray write), the cache is dropped and rebuilt rather than blocking the fleet.
 */
async function onActiveKey<T>(redis: Redis, prefix: string, op: () => Promise<T>, logger?: Logger): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (!isWrongType(err)) throw err;
    logger?.warn({ key: fleetKeys(prefix).active }, 'the fleet active key is not a hash; dropping it (it is rebuilt from the registry)');
    await redis.del(fleetKeys(prefix).active);
    return op();
  }
}

/**
 * The fleet's `active` hash: per model, the version the fleet serves and its
 * metadata. A cache of the registry's champion (plus a rollout in progress),
 * rebuilt by the workers when Redis loses it.
 */
export async function readActiveModels(redis: Redis, prefix: string, onInvalid?: (model: string, err: Error) => void): Promise<Map<string, ActiveModel>> {
  const all = await onActiveKey(redis, prefix, () => redis.hgetall(fleetKeys(prefix).active));
  const models = new Map<string, ActiveModel>();
  for (const [name, raw] of Object.entries(all)) {
    try {
      models.set(name, parseActiveModel(raw));
    } catch (err) {
      onInvalid?.(name, err as Error);
    }
  }
  return models;
}

export async function readActiveModel(redis: Redis, prefix: string, model: string): Promise<ActiveModel | null> {
  const raw = await onActiveKey(redis, prefix, () => redis.hget(fleetKeys(prefix).active, model));
  return raw === null ? null : parseActiveModel(raw);
}

export async function writeActiveModel(redis: Redis, prefix: string, active: ActiveModel): Promise<void> {
  await onActiveKey(redis, prefix, () => redis.hset(fleetKeys(prefix).active, active.name, JSON.stringify(active)));
}

/** Records `active` only if the model has no entry yet; returns whether it was written. */
export async function writeActiveModelIfMissing(redis: Redis, prefix: string, active: ActiveModel): Promise<boolean> {
  return (await onActiveKey(redis, prefix, () => redis.hsetnx(fleetKeys(prefix).active, active.name, JSON.stringify(active)))) === 1;
}

export async function removeActiveModel(redis: Redis, prefix: string, model: string): Promise<void> {
  await onActiveKey(redis, prefix, () => redis.hdel(fleetKeys(prefix).active, model));
}
