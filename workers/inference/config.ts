import { hostname } from 'node:os';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../../lib/env';

export const inferenceWorkerSchema = commonSchema.extend({
  /** Upper bound of a dynamic batch. */
  MAX_BATCH_SIZE: envField.positiveInt(32),
  /** How long a batch may wait to fill, from its oldest request's arrival (0 = never wait). */
  MAX_BATCH_WAIT_MS: envField.nonNegativeInt(5),
  /** Port of /metrics and /healthz (0 = any free port). */
  METRICS_PORT: envField.port(9101),
  METRICS_HOST: envField.string('127.0.0.1'),
  /** Consumer name in the queue group and key of the status heartbeat; must be unique in the fleet. */
  WORKER_ID: envField.string(`${hostname()}-${process.pid}`),
  /** Requests pending this long on a silent consumer are taken over (the consumer is presumed dead). */
  CLAIM_IDLE_MS: envField.positiveInt(15_000),
  /** Downloaded ONNX files, by sha256. */
  MODEL_CACHE_DIR: envField.string('.lifecycle/models'),
  /** The registry alias loaded at start-up when the fleet has no active model yet. */
  MODEL_ALIAS: envField.string('champion'),
  /** onnxruntime threads per inference (1 = scale with workers, not threads). */
  INTRA_OP_NUM_THREADS: envField.positiveInt(1),
  /** While no model is loaded, how often to look for one again (active key, then the registry). */
  MODEL_POLL_INTERVAL_MS: envField.positiveInt(5000),
  /** Graceful shutdown gives up after this long. */
  SHUTDOWN_TIMEOUT_MS: envField.positiveInt(30_000),
});

export type InferenceWorkerConfig = z.infer<typeof inferenceWorkerSchema>;

export function loadInferenceWorkerConfig(env: NodeJS.ProcessEnv = process.env): InferenceWorkerConfig {
  return loadConfig(inferenceWorkerSchema, env);
}
