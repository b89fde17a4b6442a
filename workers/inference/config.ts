import { hostname } from 'node:os';
import { z } from 'zod';
import { envField, loadConfig, servingSchema } from '../../lib/env';

export const inferenceWorkerSchema = servingSchema
  .extend({
    /** `*` = every registered model with a champion (up to MAX_MODELS_PER_WORKER), or a comma-separated list of names. */
    SERVED_MODELS: envField.string('*'),
    /** Upper bound on the models one worker holds in memory (each: its ONNX session, one Redis connection). */
    MAX_MODELS_PER_WORKER: envField.positiveInt(8),
    /** Upper bound of a dynamic batch. */
    MAX_BATCH_SIZE: envField.positiveInt(32),
    /** How long a batch may keep collecting requests that keep arriving, from its oldest request (0 = take only the first read). */
    MAX_BATCH_WAIT_MS: envField.nonNegativeInt(5),
    /** Port of /metrics, /healthz and /readyz (0 = any free port). */
    METRICS_PORT: envField.port(9101),
    METRICS_HOST: envField.string('127.0.0.1'),
    /** Consumer name in the queue groups and key of the status heartbeat; must be unique in the fleet. */
    WORKER_ID: envField.string(`${hostname()}-${process.pid}`),
    /** The worker's status key expires this long after its last heartbeat: then it counts as dead and its requests are reclaimed. */
    WORKER_LIVENESS_TTL_MS: envField.positiveInt(1500),
    /** How often a worker looks for dead workers' pending requests to take over. */
    REAP_INTERVAL_MS: envField.positiveInt(500),
    /** A batch loop that has not come round for this long (with Redis up) is stuck: /healthz fails and the heartbeat stops. */
    LOOP_STALL_MS: envField.positiveInt(5000),
    /** How often each served model is checked against the fleet's active version (converged to it when no rollout holds the model). */
    RECONCILE_INTERVAL_MS: envField.positiveInt(2000),
    /** How often the fleet controller (one worker at a time) compares the registry's alias with the fleet's active versions. */
    REGISTRY_CHECK_INTERVAL_MS: envField.positiveInt(5000),
    /** How often the fleet controller runs; its lease lasts 5 rounds, so another worker takes over within that after it dies. */
    FLEET_CONTROLLER_INTERVAL_MS: envField.positiveInt(1000),
    /** With SERVED_MODELS=*, how often the registry is asked for new models with a champion. */
    DISCOVERY_INTERVAL_MS: envField.positiveInt(10_000),
    /** Downloaded ONNX files, by sha256. */
    MODEL_CACHE_DIR: envField.string('.lifecycle/models'),
    /** The registry alias a worker serves when the fleet has no active version yet. */
    MODEL_ALIAS: envField.string('champion'),
    /**
     * Where batches run: `auto` (default) on a thread of the session's own when a warm-up run of the largest
     * batch takes longer than INFERENCE_THREAD_ABOVE_MS, else on the event loop; `thread`; `inline`.
     */
    INFERENCE_THREAD: z.enum(['auto', 'thread', 'inline']).default('auto'),
    INFERENCE_THREAD_ABOVE_MS: envField.positiveInt(5),
    /** onnxruntime threads per inference (1 = scale with workers, not threads). */
    INTRA_OP_NUM_THREADS: envField.positiveInt(1),
    /** Bound of each model's payload-log stream: past it, sampled requests are not logged (and are counted) until the logger catches up. */
    PAYLOAD_LOG_MAX_LENGTH: envField.positiveInt(10_000),
    /** Graceful shutdown gives up after this long. */
    SHUTDOWN_TIMEOUT_MS: envField.positiveInt(30_000),
  })
  .superRefine((c, ctx) => {
    // A request abandoned by a dead worker must be reclaimed while someone still waits for it.
    const reclaimBound = c.WORKER_LIVENESS_TTL_MS + c.REAP_INTERVAL_MS;
    if (reclaimBound >= c.REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['WORKER_LIVENESS_TTL_MS'],
        message: `WORKER_LIVENESS_TTL_MS + REAP_INTERVAL_MS (${reclaimBound} ms) must be below REQUEST_TIMEOUT_MS (${c.REQUEST_TIMEOUT_MS} ms), or a dead worker's requests expire before anyone reclaims them`,
      });
    }
    if (c.LOOP_STALL_MS + c.WORKER_LIVENESS_TTL_MS >= c.REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['LOOP_STALL_MS'],
        message: `LOOP_STALL_MS + WORKER_LIVENESS_TTL_MS (${c.LOOP_STALL_MS + c.WORKER_LIVENESS_TTL_MS} ms) must be below REQUEST_TIMEOUT_MS (${c.REQUEST_TIMEOUT_MS} ms), or a stuck worker's requests expire before anyone reclaims them`,
      });
    }
    if (c.MAX_BATCH_WAIT_MS * 2 >= c.REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_BATCH_WAIT_MS'],
        message: `MAX_BATCH_WAIT_MS (${c.MAX_BATCH_WAIT_MS} ms) must be below half of REQUEST_TIMEOUT_MS (${c.REQUEST_TIMEOUT_MS} ms), or batching alone can use up a request's deadline`,
      });
    }
    if (c.WORKER_LIVENESS_TTL_MS < 300) {
      ctx.addIssue({ code: 'custom', path: ['WORKER_LIVENESS_TTL_MS'], message: 'WORKER_LIVENESS_TTL_MS must be at least 300 ms (the heartbeat runs every quarter of it)' });
    }
  });

export type InferenceWorkerConfig = z.infer<typeof inferenceWorkerSchema>;

export function loadInferenceWorkerConfig(env: NodeJS.ProcessEnv = process.env): InferenceWorkerConfig {
  return loadConfig(inferenceWorkerSchema, env);
}

/** SERVED_MODELS as a list of names, or 'all'. */
export function servedModels(config: Pick<InferenceWorkerConfig, 'SERVED_MODELS'>): string[] | 'all' {
  const value = config.SERVED_MODELS.trim();
  if (value === '*') return 'all';
  return [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
}
