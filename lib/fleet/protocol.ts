/**
 * Contract between the rollout activities (writers of commands), the
 * inference workers (readers) and the API, carried over Redis. Redis is a
 * transport and a cache: the MLflow registry (`champion` alias) is the truth,
 * and everything here is rebuilt from it and from the workers themselves when
 * Redis loses its keys. All keys take the REDIS_PREFIX.
 */
import type { ModelMetadata } from '../model/metadata';

/** A model version as the fleet knows it. */
export interface ModelRef {
  name: string;
  version: string;
  /** sha256 of the ONNX file recorded at registration; workers refuse a mismatch. */
  sha256: string;
  /** MLflow artifact URI of the ONNX file (`mlflow-artifacts:/...`). */
  artifactUri: string;
}

/**
 * What the fleet serves for one model, cached in the `active` hash (field =
 * model name). The API decodes uploads to its input geometry; workers converge
 * to it when no rollout holds the model's lease. Validate with `parseActiveModel`.
 */
export interface ActiveModel extends ModelRef {
  metadata: ModelMetadata;
}

/** Load, verify and swap in `model` (on `workerId` only, or on every worker serving the model). */
export interface DeployCommand {
  type: 'deploy';
  deploymentId: string;
  model: ModelRef;
  workerId?: string;
}

/** Stop serving `model` (a first promotion that was compensated: there is nothing to go back to). */
export interface UnloadCommand {
  type: 'unload';
  deploymentId: string;
  model: string;
  workerId?: string;
}

export type FleetCommand = DeployCommand | UnloadCommand;

export type ModelState = 'starting' | 'loading' | 'ready' | 'failed';

/** One model on one worker. */
export interface ServedModelStatus {
  version: string | null;
  sha256: string | null;
  state: ModelState;
  /** Last deployment this worker acted on for the model, and its error if it failed. */
  deploymentId?: string;
  error?: string;
}

export type WorkerState = 'starting' | 'ready' | 'draining';

/**
 * What each inference worker reports about itself. The key has a short TTL
 * refreshed by a heartbeat: it is also the worker's liveness, so a dead or
 * frozen worker's pending requests are reclaimed about a second after it stops.
 */
export interface WorkerStatus {
  workerId: string;
  state: WorkerState;
  models: Record<string, ServedModelStatus>;
  /** True when the worker would take on a model it does not serve yet (SERVED_MODELS=* with room left). */
  acceptsNewModels?: boolean;
  updatedAt: number;
}

/** Held by the one rollout (or compensation) of a model in progress; workers leave that model to it. */
export interface RolloutLease {
  deploymentId: string;
  model: string;
  description: string;
  acquiredAt: number;
}

export const fleetKeys = (prefix: string) => ({
  commands: `${prefix}fleet:commands`,
  workerStatus: (workerId: string) => `${prefix}fleet:worker:${workerId}`,
  workerStatusPattern: `${prefix}fleet:worker:*`,
  /** HASH model name -> JSON ActiveModel. */
  active: `${prefix}fleet:active`,
  lease: (model: string) => `${prefix}fleet:rollout:${model}`,
});
