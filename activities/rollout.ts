import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { modelRefOf, type MlflowClient } from '../lib/mlflow/client';
import { fleetKeys, type ActiveModel, type DeployCommand, type WorkerStatus } from '../lib/fleet/protocol';
import { readModelMetadata } from '../lib/model/metadata';
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
 * First version of rollout: verifies the model package, tells every live
 * inference worker to load it, waits until all of them serve it, then makes it
 * the fleet's active model (workers that start later load it too).
 */
export async function deployModel(input: DeployInput, deps: RolloutDeps): Promise<DeploymentResult> {
  const keys = fleetKeys(deps.prefix);
  const ref = modelRefOf(await deps.mlflow.getModelVersion(input.model.name, input.model.version));
  const bytes = await deps.mlflow.downloadArtifact(ref.artifactUri);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== ref.sha256) throw new DeployError(`sha256 of ${ref.artifactUri} is ${actual}, registry says ${ref.sha256}`);
  const metadata = readModelMetadata(bytes);

  const workers = (await listWorkers(deps.redis, keys.workerStatusPattern)).map((w) => w.workerId);
  const command: DeployCommand = { type: 'deploy', deploymentId: input.deploymentId, model: ref };
  await deps.redis.publish(keys.commands, JSON.stringify(command));

  const deadline = Date.now() + input.timeoutMs;
  for (;;) {
    const statuses = new Map((await listWorkers(deps.redis, keys.workerStatusPattern)).map((w) => [w.workerId, w]));
    const failed = [...statuses.values()].find((s) => s.deploymentId === input.deploymentId && s.state === 'failed');
    if (failed) throw new DeployError(`worker ${failed.workerId} failed to load v${ref.version}: ${failed.error ?? 'unknown error'}`);
    // A worker that vanished (crashed, scaled down) no longer needs the model; one that joined loads the active model itself.
    const waiting = workers.filter((id) => {
      const s = statuses.get(id);
      return s !== undefined && !(s.state === 'ready' && s.model?.version === ref.version && s.model.name === ref.name);
    });
    deps.heartbeat({ phase: 'rollout', version: ref.version, waitingFor: waiting });
    if (waiting.length === 0) break;
    if (Date.now() > deadline) throw new Error(`rollout of v${ref.version} timed out waiting for ${waiting.join(', ')}`);
    await sleep(deps.pollIntervalMs ?? 250, undefined, { signal: deps.signal });
  }
  const active: ActiveModel = { ...ref, metadata };
  await deps.redis.set(keys.active, JSON.stringify(active));
  return { deploymentId: input.deploymentId, workers };
}

export async function listWorkers(redis: Redis, pattern: string): Promise<WorkerStatus[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 200);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerStatus);
}
