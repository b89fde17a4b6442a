import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { readActiveModel, removeActiveModel, writeActiveModel } from './active-models';
import type { RolloutLeases } from './lease';
import { fleetKeys, type ActiveModel, type FleetCommand, type ModelRef } from './protocol';
import { getWorkerStatus, listWorkerStatuses, rolloutTargets, servesVersion } from './worker-statuses';

/** Progress of a rollout, reported as activity heartbeat details. */
export interface RolloutProgress {
  phase: 'rollout' | 'rollback' | 'restore' | 'finalize' | 'waiting-for-lease';
  model: string;
  version?: string;
  worker?: string;
  /** Workers done so far, and how many this pass moves. */
  done?: number;
  of?: number;
  error?: string;
}

export interface RolloutDeps {
  redis: Redis;
  prefix: string;
  leases: RolloutLeases;
  /** The lease is renewed to this TTL while the rollout runs. */
  leaseTtlMs: number;
  heartbeat: (progress: RolloutProgress) => void;
  /** Aborts a rollout (the workflow was cancelled): moved workers are rolled back first. */
  signal?: AbortSignal;
  pollIntervalMs?: number;
}

export type RolloutErrorCode = 'WORKER_REFUSED_MODEL' | 'WORKER_LOAD_FAILED' | 'ROLLOUT_TIMEOUT' | 'LEASE_NOT_HELD' | 'ROLLOUT_CANCELLED';

/** Why a rollout stopped; `retryable` says whether the same rollout may succeed later. */
export class RolloutError extends Error {
  constructor(
    readonly code: RolloutErrorCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'RolloutError';
  }
}

/** Worker errors that say the file itself is bad: no retry can fix them. */
const PERMANENT_LOAD_ERRORS = ['MODEL_CHECKSUM_MISMATCH', 'GOLDEN_CHECK_FAILED', 'MODEL_INVALID'];

async function requireLease(model: string, deploymentId: string, description: string, deps: RolloutDeps): Promise<void> {
  const { held, holder } = await deps.leases.acquire(model, deploymentId, description, deps.leaseTtlMs);
  if (!held) throw new RolloutError('LEASE_NOT_HELD', `model ${model} is being rolled out by ${holder.deploymentId} (${holder.description})`, true);
}

async function publish(command: FleetCommand, deps: RolloutDeps): Promise<void> {
  await deps.redis.publish(fleetKeys(deps.prefix).commands, JSON.stringify(command));
}

/** How often a command is re-sent while its worker has not acted on it (pub/sub is fire-and-forget). */
const RESEND_MS = 5000;

/**
 * Sends one worker the deploy command and waits until it serves `ref`
 * ('gone' if it left the fleet meanwhile: if it comes back it converges on its
 * own). Heartbeats and renews the lease on every poll, so a slow model load is
 * never mistaken for a dead rollout.
 */
interface Move {
  /** Deployment id carried by the command (a rollback or restore gets its own, so its outcome is told apart). */
  commandId: string;
  /** The lease holder, renewed while waiting. */
  leaseId: string;
  deadline: number;
  signal?: AbortSignal;
  progress?: Omit<RolloutProgress, 'worker'>;
}

async function moveWorker(workerId: string, ref: ModelRef, move: Move, deps: RolloutDeps): Promise<'ready' | 'gone'> {
  const { commandId: deploymentId, deadline, signal, progress } = move;
  const command: FleetCommand = { type: 'deploy', deploymentId, model: ref, workerId };
  let sentAt = 0;
  for (;;) {
    const status = await getWorkerStatus(deps.redis, deps.prefix, workerId);
    if (status === null) return 'gone';
    if (servesVersion(status, ref.name, ref.version) && status.models[ref.name]?.sha256 === ref.sha256) return 'ready';
    const served = status.models[ref.name];
    if (served?.deploymentId === deploymentId && served.state === 'failed') {
      const error = served.error ?? 'unknown error';
      const permanent = PERMANENT_LOAD_ERRORS.some((code) => error.startsWith(code));
      throw new RolloutError(permanent ? 'WORKER_REFUSED_MODEL' : 'WORKER_LOAD_FAILED', `worker ${workerId} failed to load ${ref.name} v${ref.version}: ${error}`, !permanent);
    }
    if (Date.now() > deadline) throw new RolloutError('ROLLOUT_TIMEOUT', `rollout of ${ref.name} v${ref.version} timed out waiting for worker ${workerId}`, true);
    if (served?.deploymentId !== deploymentId && Date.now() - sentAt > RESEND_MS) {
      await publish(command, deps);
      sentAt = Date.now();
    }
    if (progress) deps.heartbeat({ ...progress, worker: workerId });
    await deps.leases.acquire(ref.name, move.leaseId, progress?.phase ?? 'rollout', deps.leaseTtlMs);
    try {
      await sleep(deps.pollIntervalMs ?? 200, undefined, { signal });
    } catch {
      throw new RolloutError('ROLLOUT_CANCELLED', `rollout of ${ref.name} v${ref.version} was cancelled`, false);
    }
  }
}

/** Best effort: each worker goes back to `previous` (or unloads the model when there was none); failures are reported, not thrown. */
async function rollBack(workerIds: string[], model: string, previous: ModelRef | null, leaseId: string, deps: RolloutDeps): Promise<void> {
  // With progress, so the wait for each worker heartbeats like a rollout's: a slow reload is not a dead activity.
  const move: Move = { commandId: `${leaseId}-rollback`, leaseId, deadline: Date.now() + 60_000, progress: { phase: 'rollback', model, version: previous?.version } };
  for (const workerId of workerIds) {
    try {
      if (previous) await moveWorker(workerId, previous, move, deps);
      else await publish({ type: 'unload', deploymentId: move.commandId, model, workerId }, deps);
      deps.heartbeat({ phase: 'rollback', model, worker: workerId, version: previous?.version });
    } catch (err) {
      deps.heartbeat({ phase: 'rollback', model, worker: workerId, error: (err as Error).message });
    }
  }
}

const refOf = ({ name, version, sha256, artifactUri }: ModelRef): ModelRef => ({ name, version, sha256, artifactUri });

/**
 * Rolls `target` out one inference worker at a time (the caller holds the
 * model's lease): each worker loads it beside the old version, passes its
 * golden check and swaps; the next one starts only when the previous reports
 * ready on the new version. Workers that join meanwhile are moved in a second
 * pass. On any failure or cancellation, the workers already moved (and the
 * one that failed) go back to the version the fleet served before, and the
 * error propagates so the alias stays where it is. The fleet's `active` entry
 * is not changed here: that happens in `finalizeRollout`, after the alias moved.
 */
export async function rolloutFleet(target: ModelRef, deploymentId: string, opts: { timeoutMs: number }, deps: RolloutDeps): Promise<{ workers: string[] }> {
  await requireLease(target.name, deploymentId, `rollout of v${target.version}`, deps);
  const previous = await readActiveModel(deps.redis, deps.prefix, target.name);
  const deadline = Date.now() + opts.timeoutMs;
  const moved: string[] = [];
  for (let pass = 0; pass < 3; pass++) {
    const statuses = await listWorkerStatuses(deps.redis, deps.prefix);
    const pending = rolloutTargets(statuses, target.name).filter((id) => !moved.includes(id));
    const todo = pending.filter((id) => !servesVersion(statuses.find((s) => s.workerId === id) ?? null, target.name, target.version));
    moved.push(...pending.filter((id) => !todo.includes(id)));
    if (todo.length === 0) break;
    for (const [i, workerId] of todo.entries()) {
      const progress = { phase: 'rollout' as const, model: target.name, version: target.version, done: i, of: todo.length };
      try {
        const move: Move = { commandId: deploymentId, leaseId: deploymentId, deadline, signal: deps.signal, progress };
        if ((await moveWorker(workerId, refOf(target), move, deps)) === 'ready') moved.push(workerId);
      } catch (err) {
        await rollBack([...moved, workerId], target.name, previous ? refOf(previous) : null, deploymentId, deps);
        throw err;
      }
    }
  }
  return { workers: moved };
}

/**
 * Compensation: every worker serving the model goes to `champion` (what the
 * registry's alias names now), and `active` says so; with no champion at all
 * (a first promotion that failed), the model is unloaded and dropped from `active`.
 */
export async function restoreFleet(model: string, champion: ActiveModel | null, deploymentId: string, deps: RolloutDeps): Promise<{ workers: string[]; failed: string[] }> {
  await requireLease(model, deploymentId, `restore of ${champion ? `v${champion.version}` : 'nothing'}`, deps);
  const statuses = await listWorkerStatuses(deps.redis, deps.prefix);
  const workers = rolloutTargets(statuses, model).filter((id) => statuses.find((s) => s.workerId === id)?.models[model] !== undefined);
  const failed: string[] = [];
  const deadline = Date.now() + 120_000;
  for (const [i, workerId] of workers.entries()) {
    const move: Move = { commandId: `${deploymentId}-restore`, leaseId: deploymentId, deadline, progress: { phase: 'restore', model, version: champion?.version, done: i, of: workers.length } };
    try {
      if (champion) await moveWorker(workerId, refOf(champion), move, deps);
      else await publish({ type: 'unload', deploymentId: move.commandId, model, workerId }, deps);
    } catch (err) {
      failed.push(workerId);
      deps.heartbeat({ phase: 'restore', model, worker: workerId, error: (err as Error).message });
    }
  }
  if (champion) await writeActiveModel(deps.redis, deps.prefix, champion);
  else await removeActiveModel(deps.redis, deps.prefix, model);
  return { workers, failed };
}

/**
 * After the alias moved: `target` becomes the fleet's active version (what
 * workers that start or reconcile converge to), and any worker still on
 * another version (it joined after the rollout's last pass) is moved now.
 */
export async function finalizeRollout(target: ActiveModel, deploymentId: string, deps: RolloutDeps): Promise<{ stragglers: string[] }> {
  await requireLease(target.name, deploymentId, `finalize of v${target.version}`, deps);
  await writeActiveModel(deps.redis, deps.prefix, target);
  const statuses = await listWorkerStatuses(deps.redis, deps.prefix);
  const stragglers = rolloutTargets(statuses, target.name).filter((id) => !servesVersion(statuses.find((s) => s.workerId === id) ?? null, target.name, target.version));
  const move: Move = { commandId: deploymentId, leaseId: deploymentId, deadline: Date.now() + 120_000, progress: { phase: 'finalize', model: target.name, version: target.version } };
  for (const workerId of stragglers) {
    // Best effort: a worker that cannot load it now converges on its own once the lease is released.
    await moveWorker(workerId, refOf(target), move, deps).catch(() => undefined);
  }
  return { stragglers };
}
