import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { modelRefOf, type MlflowClient } from '../lib/mlflow/client';
import { fleetKeys, type ActiveModel, type DeployCommand, type ModelRef, type WorkerStatus } from '../lib/fleet/protocol';
import { readModelMetadata } from '../lib/model/metadata';
import { parseActiveModel } from '../lib/model/active-model';
import { listWorkerStatuses } from '../lib/fleet/worker-statuses';
import { sha256Hex } from '../lib/model/sha256';
import type { DeploymentResult, RegisteredVersion } from '../lib/lifecycle/types';

export interface RolloutDeps {
  mlflow: MlflowClient;
  redis: Redis;
  prefix: string;
  heartbeat: (details: unknown) => void;
  signal?: AbortSignal;
  pollIntervalMs?: number;
}

export interface DeployInput {
  model: RegisteredVersion;
  deploymentId: string;
  timeoutMs: number;
}

/** A deploy that failed on a worker for a reason a retry will not fix (bad file, failed golden check). */
export class DeployError extends Error {
  readonly code = 'DEPLOY_FAILED';
}

/**
 * Rolls a verified model version out one inference worker at a time: each
 * worker loads it beside the old one, passes its golden check and swaps; the
 * next starts only when the previous reports ready on the new version. On any
 * failure the workers already moved (and the one that failed) are sent back
 * to the previous version, and the error propagates so the caller leaves the
 * `champion` alias where it was. On success the version becomes the fleet's
 * active model, which workers that start later load.
 */
export async function deployModel(input: DeployInput, deps: RolloutDeps): Promise<DeploymentResult> {
  const keys = fleetKeys(deps.prefix);
  const ref = modelRefOf(await deps.mlflow.getModelVersion(input.model.name, input.model.version));
  const bytes = await deps.mlflow.downloadArtifact(ref.artifactUri);
  const actual = sha256Hex(bytes);
  if (actual !== ref.sha256) throw new DeployError(`sha256 of ${ref.artifactUri} is ${actual}, registry says ${ref.sha256}`);
  const metadata = readModelMetadata(bytes);
  const previousRaw = await deps.redis.get(keys.active);
  const previous = previousRaw ? parseActiveModel(previousRaw) : null;

  const workers = (await listWorkerStatuses(deps.redis, deps.prefix)).map((w) => w.workerId).sort();
  const deadline = Date.now() + input.timeoutMs;
  const moved: string[] = [];
  const serving: string[] = [];
  for (const workerId of workers) {
    try {
      deps.heartbeat({ phase: 'rollout', version: ref.version, worker: workerId, done: moved.length, of: workers.length });
      const outcome = await moveWorker(workerId, ref, input.deploymentId, deadline, deps);
      if (outcome === 'ready') serving.push(workerId);
      moved.push(workerId);
    } catch (err) {
      if (previous) {
        const { name, version, sha256, artifactUri } = previous;
        await rollBack([...moved, workerId], { name, version, sha256, artifactUri }, `${input.deploymentId}-rollback`, deps);
      }
      throw err;
    }
  }
  const active: ActiveModel = { ...ref, metadata };
  await deps.redis.set(keys.active, JSON.stringify(active));
  return { deploymentId: input.deploymentId, workers: serving };
}

/** Sends one worker the deploy command and waits until it serves the version ('gone' if it left the fleet meanwhile). */
async function moveWorker(workerId: string, ref: ModelRef, deploymentId: string, deadline: number, deps: RolloutDeps): Promise<'ready' | 'gone'> {
  const keys = fleetKeys(deps.prefix);
  const command: DeployCommand = { type: 'deploy', deploymentId, model: ref, workerId };
  await deps.redis.publish(keys.commands, JSON.stringify(command));
  for (;;) {
    const raw = await deps.redis.get(keys.workerStatus(workerId));
    // A worker that vanished (crashed, scaled down) no longer needs the model; if it comes back it loads the active one.
    if (raw === null) return 'gone';
    const status = JSON.parse(raw) as WorkerStatus;
    if (status.deploymentId === deploymentId && status.state === 'failed') {
      throw new DeployError(`worker ${workerId} failed to load ${ref.name} v${ref.version}: ${status.error ?? 'unknown error'}`);
    }
    if (status.state === 'ready' && status.model?.name === ref.name && status.model.version === ref.version) return 'ready';
    if (Date.now() > deadline) throw new Error(`rollout of v${ref.version} timed out waiting for worker ${workerId}`);
    await sleep(deps.pollIntervalMs ?? 250, undefined, { signal: deps.signal });
  }
}

/** Best effort: each worker goes back to the previous version; a failure here is logged in the heartbeat, not thrown. */
async function rollBack(workerIds: string[], previous: ModelRef, deploymentId: string, deps: RolloutDeps): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const workerId of workerIds) {
    try {
      await moveWorker(workerId, previous, deploymentId, deadline, deps);
      deps.heartbeat({ phase: 'rollback', worker: workerId, version: previous.version });
    } catch (err) {
      deps.heartbeat({ phase: 'rollback-failed', worker: workerId, error: (err as Error).message });
    }
  }
}
