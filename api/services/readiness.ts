import type { Redis } from 'ioredis';
import { fleetKeys } from '../../lib/fleet/protocol';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { parseActiveModel } from '../../lib/model/active-model';

export interface Readiness {
  ready: boolean;
  /** Why not ready. */
  reason?: string;
  model: { name: string; version: string } | null;
  /** Live workers in state ready serving the active version. */
  workers: number;
}

export type ReadinessProbe = () => Promise<Readiness>;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/** Ready = Redis answers, an active model exists, and at least one live worker is ready on that version. */
export function redisReadinessProbe(redis: Redis, prefix: string, timeoutMs = 2000): ReadinessProbe {
  const keys = fleetKeys(prefix);
  return async () => {
    try {
      return await withTimeout(
        (async (): Promise<Readiness> => {
          await redis.ping();
          const raw = await redis.get(keys.active);
          if (raw === null) return { ready: false, reason: 'no active model', model: null, workers: 0 };
          const active = parseActiveModel(raw);
          const model = { name: active.name, version: active.version };
          const statuses = await listWorkerStatuses(redis, prefix);
          const workers = statuses.filter((s) => s.state === 'ready' && s.model?.name === model.name && s.model.version === model.version).length;
          return workers > 0 ? { ready: true, model, workers } : { ready: false, reason: `no ready worker serves ${model.name} v${model.version}`, model, workers };
        })(),
        timeoutMs,
        'readiness check',
      );
    } catch (err) {
      return { ready: false, reason: (err as Error).message, model: null, workers: 0 };
    }
  };
}
