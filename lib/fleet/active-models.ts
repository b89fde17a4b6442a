import type { Redis } from 'ioredis';
import { parseActiveModel } from '../model/active-model';
import { fleetKeys, type ActiveModel } from './protocol';

/**
 * The fleet's `active` hash: per model, the version the fleet serves and its
 * metadata. A cache of the registry's champion (plus a rollout in progress),
 * rebuilt by the workers when Redis loses it.
 */
export async function readActiveModels(redis: Redis, prefix: string, onInvalid?: (model: string, err: Error) => void): Promise<Map<string, ActiveModel>> {
  const all = await redis.hgetall(fleetKeys(prefix).active);
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
  const raw = await redis.hget(fleetKeys(prefix).active, model);
  return raw === null ? null : parseActiveModel(raw);
}

export async function writeActiveModel(redis: Redis, prefix: string, active: ActiveModel): Promise<void> {
  await redis.hset(fleetKeys(prefix).active, active.name, JSON.stringify(active));
}

/** Records `active` only if the model has no entry yet; returns whether it was written. */
export async function writeActiveModelIfMissing(redis: Redis, prefix: string, active: ActiveModel): Promise<boolean> {
  return (await redis.hsetnx(fleetKeys(prefix).active, active.name, JSON.stringify(active))) === 1;
}

export async function removeActiveModel(redis: Redis, prefix: string, model: string): Promise<void> {
  await redis.hdel(fleetKeys(prefix).active, model);
}
