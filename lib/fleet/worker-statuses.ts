import type { RedisClient } from '../queue/redis-connection';
import { fleetKeys, parseFleetValue, workerStatusSchema, type ServedModelStatus, type WorkerStatus } from './protocol';

/** A worker status value, or null when it is not one (an older or foreign writer). */
export function parseWorkerStatus(raw: string | null): WorkerStatus | null {
  if (raw === null) return null;
  try {
    return parseFleetValue(workerStatusSchema, raw, 'worker status');
  } catch {
    return null;
  }
}

/** Removes from the worker index the ids whose status key is gone, checked in the same script (a worker that just published stays). */
const PRUNE_DEAD = `
for i, id in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('SREM', KEYS[1], id) end
end
return 0`;

/**
 * Every live inference worker's last reported status (keys expire when a worker
 * stops heartbeating), read through the worker index (`fleetKeys.workers`): two
 * commands whatever the size of the keyspace (a SCAN for `fleet:worker:*` walked
 * every prediction record and slowed every rollout poll and readiness check as
 * they piled up). Ids whose key expired are pruned from the index. A value that
 * does not parse is skipped, not fatal: one bad writer must not blind readiness
 * checks or rollouts to the rest of the fleet.
 */
export async function listWorkerStatuses(redis: RedisClient, prefix: string): Promise<WorkerStatus[]> {
  const keys = fleetKeys(prefix);
  const ids = await redis.smembers(keys.workers);
  if (ids.length === 0) return [];
  const values = await redis.mget(...ids.map((id) => keys.workerStatus(id)));
  const dead = ids.filter((_, i) => values[i] === null);
  if (dead.length > 0) await redis.eval(PRUNE_DEAD, dead.length + 1, keys.workers, ...dead.map((id) => keys.workerStatus(id)), ...dead);
  return values.flatMap((v) => parseWorkerStatus(v) ?? []).sort((a, b) => a.workerId.localeCompare(b.workerId));
}

/** Writes a worker's status with its liveness TTL and its id in the worker index, in one round trip (its heartbeat). */
export async function publishWorkerStatus(redis: RedisClient, prefix: string, status: WorkerStatus, ttlMs: number): Promise<void> {
  const keys = fleetKeys(prefix);
  const results = await redis.multi().set(keys.workerStatus(status.workerId), JSON.stringify(status), 'PX', ttlMs).sadd(keys.workers, status.workerId).exec();
  const failed = results?.find(([err]) => err !== null)?.[0];
  if (failed) throw failed;
}

export async function getWorkerStatus(redis: RedisClient, prefix: string, workerId: string): Promise<WorkerStatus | null> {
  return parseWorkerStatus(await redis.get(fleetKeys(prefix).workerStatus(workerId)));
}

/** The workers serving `model` (in any state) with their status for it; draining workers are leaving and not counted. */
export function servingModel(statuses: WorkerStatus[], model: string): Array<{ workerId: string; worker: WorkerStatus; served: ServedModelStatus }> {
  return statuses.flatMap((worker) => {
    const served = worker.models[model];
    return served && worker.state !== 'draining' ? [{ workerId: worker.workerId, worker, served }] : [];
  });
}

/** The workers a rollout of `model` must move: those serving it, and those that would take it on (SERVED_MODELS=*). */
export function rolloutTargets(statuses: WorkerStatus[], model: string): string[] {
  return statuses.filter((w) => w.state !== 'draining' && (w.models[model] !== undefined || w.acceptsNewModels === true)).map((w) => w.workerId);
}

/** Whether a worker serves `version` of `model`, verified and ready. */
export function servesVersion(status: WorkerStatus | null, model: string, version: string): boolean {
  const served = status?.models[model];
  return served?.state === 'ready' && served.version === version;
}
