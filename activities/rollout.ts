import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { RedisClient } from '../lib/queue/redis-connection';
import { RolloutLeases } from '../lib/fleet/lease';
import type { ActiveModel } from '../lib/fleet/protocol';
import { finalizeRollout, restoreFleet, RolloutError, rolloutFleet, type RolloutDeps, type RolloutProgress } from '../lib/fleet/rollout';
import type { DeploymentResult, RegisteredVersion } from '../lib/lifecycle/types';
import { MlflowError, modelRefOf, type MlflowClient } from '../lib/mlflow/client';
import { ModelMetadataError, readModelMetadata } from '../lib/model/metadata';
import { sha256Hex } from '../lib/model/sha256';
import { guard, withKeepAlive } from './failures';
import { setChampion } from './registry';
import { createTrafficActivities } from './traffic';

export interface RolloutActivityDeps {
  mlflow: MlflowClient;
  redis: RedisClient;
  redisPrefix: string;
  /** How long a rollout waits for each worker to load a version. */
  deployTimeoutMs: number;
  /** TTL of the model's rollout lease; every rollout activity renews it while it runs. */
  leaseTtlMs: number;
}

export interface LeaseInput {
  modelName: string;
  deploymentId: string;
  description?: string;
}

export interface DeployInput {
  model: RegisteredVersion;
  deploymentId: string;
}

const CHAMPION_ALIAS = 'champion';

/**
 * The fleet side of the promotion saga (see workflows/): take the model's
 * rollout lease, put a progressive rollout's traffic plan on the fleet and
 * take it off, roll a version out one worker at a time, compensate by
 * restoring what the registry calls champion, finalize after the alias moved,
 * release the lease. All of them heartbeat, so a slow model load is never
 * mistaken for a dead activity, and all are safe to retry.
 */
export function createRolloutActivities(deps: RolloutActivityDeps) {
  const leases = new RolloutLeases(deps.redis, deps.redisPrefix);
  const fleet = (signal?: AbortSignal): RolloutDeps => ({
    redis: deps.redis,
    prefix: deps.redisPrefix,
    leases,
    leaseTtlMs: deps.leaseTtlMs,
    heartbeat: (progress: RolloutProgress) => Context.current().heartbeat(progress),
    signal,
  });

  /** The registered version as the fleet needs it: downloaded, checked against its recorded sha256, metadata read. */
  async function verifiedVersion(name: string, version: string): Promise<ActiveModel> {
    const ref = modelRefOf(await deps.mlflow.getModelVersion(name, version));
    // A large model on a slow store can take longer than the heartbeat timeout to download.
    const bytes = await withKeepAlive((beat) => {
      beat({ phase: 'download', model: name, version });
      return deps.mlflow.downloadArtifact(ref.artifactUri);
    });
    const actual = sha256Hex(bytes);
    if (actual !== ref.sha256) {
      throw ApplicationFailure.nonRetryable(`sha256 of ${ref.artifactUri} is ${actual}, the registry says ${ref.sha256}`, 'MODEL_CHECKSUM_MISMATCH');
    }
    try {
      return { ...ref, metadata: readModelMetadata(bytes) };
    } catch (err) {
      if (err instanceof ModelMetadataError) throw ApplicationFailure.nonRetryable(`${name} v${version}: ${err.message}`, 'MODEL_INVALID');
      throw err;
    }
  }

  return {
    /** setTraffic and clearTraffic: the shadow and canary steps of a progressive rollout (activities/traffic.ts). */
    ...createTrafficActivities({ ...deps, leases, verifiedVersion }),

    /** Waits (heartbeating) while another deployment holds the model's lease, then takes it. Idempotent per deploymentId. */
    async acquireRolloutLease(input: LeaseInput): Promise<{ waitedMs: number }> {
      const ctx = Context.current();
      const started = Date.now();
      for (;;) {
        const { held, holder } = await leases.acquire(input.modelName, input.deploymentId, input.description ?? input.deploymentId, deps.leaseTtlMs);
        if (held) return { waitedMs: Date.now() - started };
        ctx.heartbeat({ phase: 'waiting-for-lease', model: input.modelName, heldBy: holder.deploymentId, description: holder.description });
        try {
          await sleep(1000, undefined, { signal: ctx.cancellationSignal });
        } catch {
          throw new CancelledFailure('cancelled while waiting for the rollout lease');
        }
      }
    },

    async releaseRolloutLease(input: LeaseInput): Promise<void> {
      await leases.release(input.modelName, input.deploymentId);
    },

    /** Rolls the version out to every worker serving its model, one at a time; on failure the moved workers go back. */
    async deployModel(input: DeployInput): Promise<DeploymentResult> {
      const ctx = Context.current();
      const target = await verifiedVersion(input.model.name, input.model.version);
      try {
        const { workers } = await rolloutFleet(target, input.deploymentId, { timeoutMs: deps.deployTimeoutMs }, fleet(ctx.cancellationSignal));
        return { deploymentId: input.deploymentId, workers };
      } catch (err) {
        throw toFailure(err);
      }
    },

    /**
     * The saga's pivot: moves `champion` to the version while holding the model's rollout lease.
     * An MLflow outage is waited out here, renewing the lease (Redis is up) and heartbeating, so
     * the workers never take the lease's expiry for the end of the rollout and converge back to
     * the old version while the alias is still on its way. Gives up only when the activity's
     * time runs out (then the saga compensates) or on an error a retry cannot fix.
     */
    async moveChampionAlias(input: DeployInput): Promise<{ previous: string | null }> {
      const ctx = Context.current();
      const { name, version } = input.model;
      for (let attempt = 1; ; attempt++) {
        const { held, holder } = await leases.acquire(name, input.deploymentId, `alias move to v${version}`, deps.leaseTtlMs);
        if (!held) throw ApplicationFailure.nonRetryable(`the rollout lease of ${name} is held by ${holder.deploymentId}`, 'LEASE_LOST');
        try {
          return await guard(() => setChampion(deps.mlflow, input.model));
        } catch (err) {
          if (!(err instanceof MlflowError && err.transient)) throw err;
          ctx.heartbeat({ phase: 'alias', model: name, version, attempt, waiting: err.message });
          try {
            await sleep(Math.min(500 * 2 ** attempt, 5000), undefined, { signal: ctx.cancellationSignal });
          } catch {
            throw new CancelledFailure('cancelled while moving the champion alias');
          }
        }
      }
    },

    /** Compensation: every worker serving the model goes back to what the registry's champion alias names now. */
    async restoreFleet(input: LeaseInput): Promise<{ version: string | null; workers: string[]; failed: string[] }> {
      const mv = await deps.mlflow.getModelVersionByAlias(input.modelName, CHAMPION_ALIAS);
      const champion = mv ? await verifiedVersion(input.modelName, mv.version) : null;
      try {
        const { workers, failed } = await restoreFleet(input.modelName, champion, input.deploymentId, fleet());
        return { version: champion?.version ?? null, workers, failed };
      } catch (err) {
        throw toFailure(err);
      }
    },

    /** After the alias moved: the version becomes the fleet's active one, stragglers are moved. */
    async finalizeRollout(input: DeployInput): Promise<{ stragglers: string[] }> {
      const target = await verifiedVersion(input.model.name, input.model.version);
      try {
        return await finalizeRollout(target, input.deploymentId, fleet());
      } catch (err) {
        throw toFailure(err);
      }
    },
  };
}

export type RolloutActivities = ReturnType<typeof createRolloutActivities>;

function toFailure(err: unknown): unknown {
  if (!(err instanceof RolloutError)) return err;
  if (err.code === 'ROLLOUT_CANCELLED') return new CancelledFailure(err.message);
  return err.retryable ? ApplicationFailure.retryable(err.message, err.code) : ApplicationFailure.nonRetryable(err.message, err.code);
}
