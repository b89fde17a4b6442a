import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisClient } from '../queue/redis-connection';
import { readActiveModel } from './active-models';
import type { RolloutLeases } from './lease';
import { fleetKeys, PERMANENT_LOAD_ERRORS, type ActiveModel, type FleetCommand, type ModelRef } from './protocol';
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
  redis: RedisClient;
  prefix: string;
  leases: RolloutLeases;
  /** The lease is renewed to this TTL while the rollout runs. */
  leaseTtlMs: number;
  heartbeat: (progress: RolloutProgress) => void;
  /** Aborts a rollout (the workflow was cancelled): moved workers are rolled back first. */
  signal?: AbortSignal;
  pollIntervalMs?: number;
  /** How long an unanswered command waits before it is sent again (RESEND_MS by default). */
  resendMs?: number;
}

export type RolloutErrorCode = 'WORKER_REFUSED_MODEL' | 'WORKER_LOAD_FAILED' | 'ROLLOUT_TIMEOUT' | 'LEASE_NOT_HELD' | 'LEASE_LOST' | 'ROLLOUT_CANCELLED';

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

async function requireLease(model: string, deploymentId: string, description: string, deps: RolloutDeps): Promise<void> {
  const { held, holder } = await deps.leases.acquire(model, deploymentId, description, deps.leaseTtlMs);
  if (!held) throw new RolloutError('LEASE_NOT_HELD', `model ${model} is being rolled out by ${holder.deploymentId} (${holder.description})`, true);
}

/** Keeps the lease or stops: someone else owns the model's workers now, and moving (or moving back) any more would fight them. */
async function renewLease(model: string, leaseId: string, deps: RolloutDeps): Promise<void> {
  if (await deps.leases.renew(model, leaseId, deps.leaseTtlMs)) return;
  const holder = await deps.leases.holder(model);
  const now = holder ? `is now held by ${holder.deploymentId} (${holder.description})` : 'is free';
  throw new RolloutError('LEASE_LOST', `the rollout lease of ${model} expired under ${leaseId} and ${now}; stopped without moving another worker`, false);
}

async function publish(command: FleetCommand, deps: RolloutDeps): Promise<void> {
  await deps.redis.publish(fleetKeys(deps.prefix).commands, JSON.stringify(command));
}

/**
 * How often a command is re-sent while its worker has not acted on it (pub/sub is fire-and-forget).
 * A worker seen restarted since the last send (its status's startedAt changed) gets it again at once.
 */
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
  let sentTo: number | undefined;
  for (;;) {
    const status = await getWorkerStatus(deps.redis, deps.prefix, workerId);
    if (status === null) return 'gone';
    // The process the command went to was replaced by one that started after it was sent.
    const restarted = sentAt > 0 && status.startedAt !== sentTo;
    if (servesVersion(status, ref.name, ref.version) && status.models[ref.name]?.sha256 === ref.sha256) return 'ready';
    const served = status.models[ref.name];
    if (served?.deploymentId === deploymentId && served.state === 'failed') {
      const error = served.error ?? { code: 'MODEL_LOAD_FAILED', message: 'no reason given' };
      const permanent = PERMANENT_LOAD_ERRORS.has(error.code);
      throw new RolloutError(permanent ? 'WORKER_REFUSED_MODEL' : 'WORKER_LOAD_FAILED', `worker ${workerId} failed to load ${ref.name} v${ref.version}: ${error.code}: ${error.message}`, !permanent);
    }
    if (Date.now() > deadline) throw new RolloutError('ROLLOUT_TIMEOUT', `rollout of ${ref.name} v${ref.version} timed out waiting for worker ${workerId}`, true);
    if (served?.deploymentId !== deploymentId && (restarted || Date.now() - sentAt > (deps.resendMs ?? RESEND_MS))) {
      await publish(command, deps);
      sentAt = Date.now();
      sentTo = status.startedAt;
    }
    if (progress) deps.heartbeat({ ...progress, worker: workerId });
    await renewLease(ref.name, move.leaseId, deps);
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
        // Without the lease, the moved workers are not ours to move back: they follow the fleet's active
        // version once nobody holds the lease, or the new holder moves them.
        if (!(err instanceof RolloutError && err.code === 'LEASE_LOST')) await rollBack([...moved, workerId], target.name, previous ? refOf(previous) : null, deploymentId, deps);
        throw err;
      }
    }
  }
  return { workers: moved };
}

/** Asks the fleet controller to bring `model`'s active entry in line with the registry now. */
async function requestSync(model: string, deps: RolloutDeps): Promise<void> {
  await publish({ type: 'sync', model }, deps);
}

/**
 * Compensation: every worker serving the model goes to `champion` (what the
 * registry's alias names now); with no champion at all (a first promotion that
 * failed), the model is unloaded. The fleet controller keeps `active` on the alias.
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
  await requestSync(model, deps);
  return { workers, failed };
}

/**
 * After the alias moved: waits (bounded) until the fleet controller has made
 * `target` the fleet's active version (what workers that start or reconcile
 * converge to), then moves any worker still on another version (it joined
 * after the rollout's last pass). Forward only: the alias has moved, so a slow
 * controller is reported, not compensated.
 */
export async function finalizeRollout(target: ActiveModel, deploymentId: string, deps: RolloutDeps, opts: { syncTimeoutMs?: number } = {}): Promise<{ stragglers: string[]; activeSynced: boolean }> {
  await requireLease(target.name, deploymentId, `finalize of v${target.version}`, deps);
  const syncUntil = Date.now() + (opts.syncTimeoutMs ?? 30_000);
  let activeSynced = false;
  for (let asked = 0; ; ) {
    const active = await readActiveModel(deps.redis, deps.prefix, target.name);
    if (active?.version === target.version && active.sha256 === target.sha256) {
      activeSynced = true;
      break;
    }
    if (Date.now() > syncUntil) break;
    if (Date.now() - asked > RESEND_MS) {
      await requestSync(target.name, deps);
      asked = Date.now();
    }
    deps.heartbeat({ phase: 'finalize', model: target.name, version: target.version, error: active ? `fleet active still v${active.version}` : 'fleet active entry missing' });
    await renewLease(target.name, deploymentId, deps);
    await sleep(deps.pollIntervalMs ?? 200);
  }
  const statuses = await listWorkerStatuses(deps.redis, deps.prefix);
  const stragglers = rolloutTargets(statuses, target.name).filter((id) => !servesVersion(statuses.find((s) => s.workerId === id) ?? null, target.name, target.version));
  const move: Move = { commandId: deploymentId, leaseId: deploymentId, deadline: Date.now() + 120_000, progress: { phase: 'finalize', model: target.name, version: target.version } };
  for (const workerId of stragglers) {
    // Best effort: a worker that cannot load it now converges on its own once the lease is released.
    await moveWorker(workerId, refOf(target), move, deps).catch(() => undefined);
  }
  return { stragglers, activeSynced };
}
