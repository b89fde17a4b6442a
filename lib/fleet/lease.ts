import type { RedisClient } from '../queue/redis-connection';
import { fleetKeys, parseFleetValue, rolloutLeaseSchema, type RolloutLease } from './protocol';

/** Takes the lease if free, or renews it if `deploymentId` already holds it. Returns the holder afterwards. */
const ACQUIRE = `
local current = redis.call('GET', KEYS[1])
if current then
  local holder = cjson.decode(current)
  if holder.deploymentId ~= ARGV[1] then return current end
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return current
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return ARGV[2]
`;

/** Extends the lease only if `deploymentId` still holds it; an expired lease is not taken again. */
const RENEW = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).deploymentId == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
`;

/** Deletes the lease only if `deploymentId` holds it. */
const RELEASE = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).deploymentId == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * The rollout lease of one model: at most one rollout (or compensation) moves
 * a model's workers at a time, and while it is held the workers leave that
 * model to it instead of converging on their own. It lives in Redis with a TTL
 * that the holder keeps renewing, so a holder that dies cannot block the model
 * for longer than the TTL.
 */
export class RolloutLeases {
  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
  ) {}

  /** Acquires (or renews) the lease for `deploymentId`; returns the current holder, which is someone else when busy. */
  async acquire(model: string, deploymentId: string, description: string, ttlMs: number): Promise<{ held: boolean; holder: RolloutLease }> {
    const mine: RolloutLease = { deploymentId, model, description, acquiredAt: Date.now() };
    const raw = (await this.redis.eval(ACQUIRE, 1, fleetKeys(this.prefix).lease(model), deploymentId, JSON.stringify(mine), Math.round(ttlMs))) as string;
    const holder = parseFleetValue(rolloutLeaseSchema, raw, 'rollout lease');
    return { held: holder.deploymentId === deploymentId, holder };
  }

  /**
   * Keeps a lease that `deploymentId` holds; false when it expired or someone else holds it now. A rollout
   * renews with this, never with `acquire`: after a gap its workers may already have converged back, or
   * another rollout may have come and gone, so it must stop rather than silently take the model again.
   */
  async renew(model: string, deploymentId: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, fleetKeys(this.prefix).lease(model), deploymentId, Math.round(ttlMs))) === 1;
  }

  async release(model: string, deploymentId: string): Promise<boolean> {
    return (await this.redis.eval(RELEASE, 1, fleetKeys(this.prefix).lease(model), deploymentId)) === 1;
  }

  async holder(model: string): Promise<RolloutLease | null> {
    const raw = await this.redis.get(fleetKeys(this.prefix).lease(model));
    return raw === null ? null : parseFleetValue(rolloutLeaseSchema, raw, 'rollout lease');
  }
}
