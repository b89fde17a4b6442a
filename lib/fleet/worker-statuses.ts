import type { Redis } from 'ioredis';
import { fleetKeys, type WorkerStatus } from './protocol';

/**
 * Every live inference worker's last reported status (keys expire when a worker
 * stops heartbeating). A value that does not parse is skipped, not fatal: one
 * bad writer must not blind readiness checks or rollouts to the rest of the fleet.
 */
export async function listWorkerStatuses(redis: Redis, prefix: string): Promise<WorkerStatus[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanStream({ match: fleetKeys(prefix).workerStatusPattern, count: 200 })) keys.push(...(batch as string[]));
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.flatMap((v) => {
    if (v === null) return [];
    try {
      return [JSON.parse(v) as WorkerStatus];
    } catch {
      return [];
    }
  });
}
