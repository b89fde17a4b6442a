/**
 * Contract between the rollout activities (writers of commands) and the
 * inference workers (readers), carried over Redis. All keys take the
 * REDIS_PREFIX so several stacks and tests can share one Redis.
 */
import type { ModelMetadata } from '../model/metadata';

/** A model version as the fleet knows it. */
export interface ModelRef {
  name: string;
  version: string;
  /** sha256 of the ONNX file recorded at registration; workers refuse a mismatch. */
  sha256: string;
  /** MLflow artifact URI of the ONNX file, e.g. `mlflow-artifacts:/1/<run>/artifacts/model/model.onnx`. */
  artifactUri: string;
}

/**
 * The version the fleet serves, stored as JSON under `fleetKeys(prefix).active`.
 * Written by the rollout once every worker moved (and by the first worker that
 * loads the champion, with SET NX). The API preprocesses uploads with its
 * `metadata`, so it never needs the ONNX file; `readModelMetadata(onnxBytes)`
 * from lib/model/metadata.ts produces it. Validate with `parseActiveModel`.
 */
export interface ActiveModel extends ModelRef {
  metadata: ModelMetadata;
}

/** Published on the commands channel. */
export interface DeployCommand {
  type: 'deploy';
  deploymentId: string;
  model: ModelRef;
  /** Deploy to this worker only; absent = every worker. */
  workerId?: string;
}

export type FleetCommand = DeployCommand;

export type WorkerState = 'starting' | 'loading' | 'ready' | 'failed' | 'draining';

/** What each inference worker reports about itself (a key with a TTL, refreshed by a heartbeat). */
export interface WorkerStatus {
  workerId: string;
  state: WorkerState;
  /** The model this worker currently serves (null until the first load). */
  model: { name: string; version: string; sha256: string } | null;
  /** Last deployment this worker acted on, and its error if it failed. */
  deploymentId?: string;
  error?: string;
  updatedAt: number;
}

export const fleetKeys = (prefix: string) => ({
  commands: `${prefix}fleet:commands`,
  workerStatus: (workerId: string) => `${prefix}fleet:worker:${workerId}`,
  workerStatusPattern: `${prefix}fleet:worker:*`,
  /** JSON ActiveModel: the version the fleet serves; the API preprocesses with its metadata. */
  active: `${prefix}fleet:active`,
});

/** Worker status keys expire if a worker stops heartbeating. */
export const WORKER_STATUS_TTL_SECONDS = 10;
export const WORKER_HEARTBEAT_INTERVAL_MS = 2000;
