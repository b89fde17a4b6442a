import type { RedisClient } from '../queue/redis-connection';
import { activeModelSchema, fleetKeys, parseFleetValue, type ActiveModel } from './protocol';

const isWrongType = (err: unknown) => err instanceof Error && err.message.startsWith('WRONGTYPE');

/** Runs a read of the `active` hash; something else under that name (an older layout, a stray write) reads as empty, and the fleet controller replaces it. */
async function readActive<T>(op: () => Promise<T>, empty: T): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isWrongType(err)) return empty;
    throw err;
  }
}

const parseActiveModel = (raw: string): ActiveModel => parseFleetValue(activeModelSchema, raw, 'active model');

/**
 * The fleet's `active` hash: per model, the version the fleet serves (the
 * registry's champion) and its metadata. Read-only here: the fleet controller
 * (fleet-controller.ts) is its one writer.
 */
export async function readActiveModels(redis: RedisClient, prefix: string, onInvalid?: (model: string, err: Error) => void): Promise<Map<string, ActiveModel>> {
  const all = await readActive(() => redis.hgetall(fleetKeys(prefix).active), {});
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

export async function readActiveModel(redis: RedisClient, prefix: string, model: string): Promise<ActiveModel | null> {
  const raw = await readActive(() => redis.hget(fleetKeys(prefix).active, model), null);
  return raw === null ? null : parseActiveModel(raw);
}
