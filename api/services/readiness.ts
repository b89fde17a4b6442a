import type { RedisClient } from '../../lib/queue/redis-connection';
import { listWorkerStatuses, servesVersion } from '../../lib/fleet/worker-statuses';
import type { ServedModelSource } from './served-models';

export interface Readiness {
  ready: boolean;
  /** Why not ready. */
  reason?: string;
  /** The default model's served version. */
  model: { name: string; version: string } | null;
  /** Live workers ready on that version. */
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

/** Ready = Redis answers, the default model is served, and at least one live worker is ready on its version. */
export function redisReadinessProbe(redis: RedisClient, prefix: string, models: ServedModelSource, defaultModel: string, timeoutMs = 2000): ReadinessProbe {
  return async () => {
    try {
      return await withTimeout(
        (async (): Promise<Readiness> => {
          await redis.ping();
          const active = models.get(defaultModel);
          if (!active) return { ready: false, reason: `no version of ${defaultModel} is served yet`, model: null, workers: 0 };
          const model = { name: active.name, version: active.version };
          const statuses = await listWorkerStatuses(redis, prefix);
          const workers = statuses.filter((s) => s.state === 'ready' && servesVersion(s, model.name, model.version)).length;
          return workers > 0 ? { ready: true, model, workers } : { ready: false, reason: `no ready worker serves ${model.name} v${model.version}`, model, workers };
        })(),
        timeoutMs,
        'readiness check',
      );
    } catch (err) {
      return { ready: false, reason: `Redis: ${(err as Error).message}`, model: null, workers: 0 };
    }
  };
}
