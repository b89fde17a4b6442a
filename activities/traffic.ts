import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { RedisClient } from '../lib/queue/redis-connection';
import type { RolloutLeases } from '../lib/fleet/lease';
import { FleetProtocolError, fleetKeys, PERMANENT_LOAD_ERRORS, TRAFFIC_PLAN_TAG, trafficPlanSchema, type ActiveModel, type TrafficPlan } from '../lib/fleet/protocol';
import { parseTrafficPlan, readTrafficState, samePlan } from '../lib/fleet/traffic-states';
import { listWorkerStatuses, servingModel } from '../lib/fleet/worker-statuses';
import type { ClearTrafficInput, TrafficActivities, TrafficApplied, TrafficInput } from '../lib/lifecycle/types';
import type { MlflowClient } from '../lib/mlflow/client';
import { guard } from './failures';

export interface TrafficActivityDeps {
  mlflow: Pick<MlflowClient, 'registeredModelTag' | 'setRegisteredModelTag' | 'deleteRegisteredModelTag' | 'getModelVersionByAlias'>;
  redis: RedisClient;
  redisPrefix: string;
  leases: RolloutLeases;
  /** Bounds each wait for the fleet (candidate loaded everywhere, entry gone). */
  deployTimeoutMs: number;
  leaseTtlMs: number;
  /** The version downloaded and checked against its recorded sha256 (non-retryable failures when it is bad). */
  verifiedVersion: (name: string, version: string) => Promise<ActiveModel>;
  pollIntervalMs?: number;
}

/** A sync request is re-sent this often while waiting: a pub/sub message lost in a Redis blip must not cost the whole timeout. */
const RESYNC_MS = 2000;

/**
 * The traffic steps of a progressive rollout (shadow, canary): the plan goes
 * to the registry (TRAFFIC_PLAN_TAG, the truth the fleet controller follows),
 * then the activity waits until the fleet carries it. Both are safe to retry:
 * the same step keeps its plan (and start time), a missing tag is cleared.
 */
export function createTrafficActivities(deps: TrafficActivityDeps): TrafficActivities {
  const keys = fleetKeys(deps.redisPrefix);
  const sync = (model: string) => deps.redis.publish(keys.commands, JSON.stringify({ type: 'sync', model }));

  async function currentPlan(model: string): Promise<TrafficPlan | null | 'invalid'> {
    const raw = await guard(() => deps.mlflow.registeredModelTag(model, TRAFFIC_PLAN_TAG));
    if (raw === null) return null;
    try {
      return parseTrafficPlan(raw);
    } catch (err) {
      if (err instanceof FleetProtocolError) return 'invalid';
      throw err;
    }
  }

  /** Polls `done` (heartbeating `progress`) until it returns a value, the deadline passes, or the activity is cancelled. */
  async function waitFor<T>(model: string, what: string, check: () => Promise<{ done: T } | { progress: Record<string, unknown> }>): Promise<T> {
    const ctx = Context.current();
    const deadline = Date.now() + deps.deployTimeoutMs;
    let lastSync = Date.now();
    for (;;) {
      const result = await check();
      if ('done' in result) return result.done;
      ctx.heartbeat({ model, waitingFor: what, ...result.progress });
      if (Date.now() > deadline) throw ApplicationFailure.retryable(`${what} did not happen within ${deps.deployTimeoutMs} ms`, 'TRAFFIC_TIMEOUT', result.progress);
      if (Date.now() - lastSync >= RESYNC_MS) {
        lastSync = Date.now();
        await sync(model);
      }
      try {
        await sleep(deps.pollIntervalMs ?? 200, undefined, { signal: ctx.cancellationSignal });
      } catch {
        throw new CancelledFailure(`cancelled while waiting for ${what}`);
      }
    }
  }

  /**
   * The model's rollout lease must be this rollout's. A step lasts minutes and nothing renews the lease
   * between two steps, so it is renewed here for the whole step (its maximum duration, plus the usual
   * TTL). A lease that vanished (Redis restarted empty) is taken again, but only while nothing else can
   * have happened to the model meanwhile: this rollout's plan is still the registry's, and the champion
   * is still the one the rollout is judged against. Held by another rollout, or either check fails:
   * LEASE_LOST, and the workflow rolls the candidate back.
   */
  async function requireLease(model: string, deploymentId: string, opts: { ttlMs?: number; championVersion?: string } = {}): Promise<void> {
    const ttl = Math.max(deps.leaseTtlMs, opts.ttlMs ?? 0);
    if (await deps.leases.renew(model, deploymentId, ttl)) return;
    const holder = await deps.leases.holder(model);
    if (holder === null && opts.championVersion !== undefined && (await unchangedSince(model, deploymentId, opts.championVersion))) {
      const { held } = await deps.leases.acquire(model, deploymentId, `progressive rollout ${deploymentId} (lease taken again)`, ttl);
      if (held) return;
    }
    const now = holder ?? (await deps.leases.holder(model));
    throw ApplicationFailure.nonRetryable(`the rollout lease of ${model} is ${now ? `held by ${now.deploymentId}` : 'not held'}, not by ${deploymentId}`, 'LEASE_LOST');
  }

  async function unchangedSince(model: string, deploymentId: string, championVersion: string): Promise<boolean> {
    const plan = await currentPlan(model);
    if (plan === null || plan === 'invalid' || plan.deploymentId !== deploymentId) return false;
    const champion = await guard(() => deps.mlflow.getModelVersionByAlias(model, 'champion'));
    return champion?.version === championVersion;
  }

  return {
    async setTraffic(input: TrafficInput): Promise<TrafficApplied> {
      const { name, version } = input.model;
      const lease = { ttlMs: (input.maxDurationMs ?? 0) + deps.leaseTtlMs, championVersion: input.championVersion };
      await requireLease(name, input.deploymentId, lease);
      // A file that does not match its sha256, or has no usable metadata, fails here before any worker tries it.
      await deps.verifiedVersion(name, version);
      const existing = await currentPlan(name);
      const step = { version, mode: input.mode, share: input.share, mirrorShare: input.mirrorShare, deploymentId: input.deploymentId, maxDurationMs: input.maxDurationMs };
      const wanted = trafficPlanSchema.parse({ ...step, setAt: Date.now() });
      // A retry of the same step keeps the step's start: the analysis and the held-too-long alert count from it.
      const plan = existing && existing !== 'invalid' && samePlan(existing, { ...wanted, setAt: existing.setAt }) ? existing : wanted;
      if (plan !== existing) await guard(() => deps.mlflow.setRegisteredModelTag(name, TRAFFIC_PLAN_TAG, JSON.stringify(plan)));
      await sync(name);
      return waitFor<TrafficApplied>(name, `v${version} ${plan.mode} ${plan.share} on every worker of ${name}`, async () => {
        await requireLease(name, input.deploymentId, lease);
        const [state, statuses] = await Promise.all([readTrafficState(deps.redis, deps.redisPrefix, name), listWorkerStatuses(deps.redis, deps.redisPrefix)]);
        const serving = servingModel(statuses, name);
        const refused = serving.find(({ served }) => served.candidate?.version === version && served.candidate.state === 'failed' && served.candidate.error && PERMANENT_LOAD_ERRORS.has(served.candidate.error.code));
        if (refused?.served.candidate?.error) {
          const { code, message } = refused.served.candidate.error;
          throw ApplicationFailure.nonRetryable(`worker ${refused.workerId} cannot load ${name} v${version}: ${message}`, code);
        }
        const ready = serving.filter(({ served }) => served.version === version || (served.candidate?.version === version && served.candidate.state === 'ready')).map((s) => s.workerId);
        const applied = state !== null && samePlan(state, plan);
        if (applied && serving.length > 0 && ready.length === serving.length) return { done: { deploymentId: input.deploymentId, workers: ready, appliedAt: Date.now() } };
        return { progress: { version, mode: plan.mode, share: plan.share, planOnFleet: applied, ready: ready.length, of: serving.length } };
      });
    },

    async clearTraffic(input: ClearTrafficInput): Promise<void> {
      const { modelName, deploymentId } = input;
      const existing = await currentPlan(modelName);
      // Another rollout's plan is left alone; an unreadable one is nobody's and goes.
      if (existing === 'invalid' || existing?.deploymentId === deploymentId) await guard(() => deps.mlflow.deleteRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG));
      await sync(modelName);
      await waitFor(modelName, `the traffic of ${modelName} to be cleared`, async () => {
        const state = await readTrafficState(deps.redis, deps.redisPrefix, modelName);
        return state === null || state.deploymentId !== deploymentId ? { done: undefined } : { progress: { version: state.version, mode: state.mode } };
      });
    },
  };
}
