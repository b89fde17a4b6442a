import type { RedisClient } from '../queue/redis-connection';
import { fleetKeys, parseFleetValue, trafficPlanSchema, trafficStateSchema, type TrafficPlan, type TrafficState } from './protocol';

const isWrongType = (err: unknown) => err instanceof Error && err.message.startsWith('WRONGTYPE');

/** Something else under the `traffic` name (a stray write) reads as empty, and the fleet controller replaces it. */
async function readTraffic<T>(op: () => Promise<T>, empty: T): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (isWrongType(err)) return empty;
    throw err;
  }
}

export const parseTrafficState = (raw: string): TrafficState => parseFleetValue(trafficStateSchema, raw, 'traffic state');

/** The plan held in the registry's TRAFFIC_PLAN_TAG (FleetProtocolError when it is not one). */
export const parseTrafficPlan = (raw: string): TrafficPlan => parseFleetValue(trafficPlanSchema, raw, 'traffic plan');

/** Whether two plans put the same traffic on the fleet (the controller rewrites the fleet's entry only when they differ). */
export function samePlan(a: TrafficPlan, b: TrafficPlan): boolean {
  return (
    a.version === b.version &&
    a.mode === b.mode &&
    a.share === b.share &&
    a.mirrorShare === b.mirrorShare &&
    a.deploymentId === b.deploymentId &&
    a.setAt === b.setAt &&
    a.maxDurationMs === b.maxDurationMs
  );
}

/**
 * The fleet's `traffic` hash: per model, the shadow or canary plan of a
 * progressive rollout and its candidate. Read-only here: the fleet controller
 * (traffic-sync.ts) is its one writer.
 */
export async function readTrafficStates(redis: RedisClient, prefix: string, onInvalid?: (model: string, err: Error) => void): Promise<Map<string, TrafficState>> {
  const all = await readTraffic(() => redis.hgetall(fleetKeys(prefix).traffic), {});
  const states = new Map<string, TrafficState>();
  for (const [name, raw] of Object.entries(all)) {
    try {
      states.set(name, parseTrafficState(raw));
    } catch (err) {
      onInvalid?.(name, err as Error);
    }
  }
  return states;
}

export async function readTrafficState(redis: RedisClient, prefix: string, model: string): Promise<TrafficState | null> {
  const raw = await readTraffic(() => redis.hget(fleetKeys(prefix).traffic, model), null);
  return raw === null ? null : parseTrafficState(raw);
}
