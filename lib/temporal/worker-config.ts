import { resolve } from 'node:path';
import { z } from 'zod';
import { commonSchema, envField } from '../env';

/** Settings shared by the Temporal worker processes (pipeline and training). */
export const temporalWorkerSchema = commonSchema.extend({
  TEMPORAL_ADDRESS: envField.string('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: envField.string('default'),
  /** Port of this process's own prom-client metrics (0 = pick a free port). */
  METRICS_PORT: envField.port(9102),
  /** Port of the Temporal SDK's built-in Prometheus exporter (core metrics: task latency, slots, polls). */
  TEMPORAL_METRICS_PORT: envField.port(9464),
  METRICS_HOST: envField.string('127.0.0.1'),
  /** A git repository holding the DVC project; default the checkout the worker runs from. */
  DATASET_REPO: z.string().min(1).optional(),
  DATASET_PATH: envField.string('dvc/data/fashion-mnist-v2'),
  /** Overrides the DVC default remote URL (e.g. s3://bucket/path in compose). */
  DVC_REMOTE_URL: z.string().min(1).optional(),
  DATA_CACHE_DIR: envField.string('.lifecycle/data'),
  LIFECYCLE_VENV: envField.string('.venv'),
  /**
   * How long a stopping worker (SIGTERM) lets running activities finish before cancelling them
   * (the SDK's shutdownGraceTime, whose own default 0 cancels a rollout or a training at once).
   * Default 25 s: it fits inside the 30 s a stop is given by default both by Kubernetes
   * (terminationGracePeriodSeconds) and by the local stack's supervisord (stopwaitsecs), leaving
   * 5 s for cancelled activities to clean up. Deployments that run longer activities set more and
   * give the pod a longer grace period (infra/k8s/base/*-worker.yaml). At most one hour.
   */
  TEMPORAL_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(3_600_000).default(25_000),
});

export type TemporalWorkerConfig = z.infer<typeof temporalWorkerSchema>;

/** DVC settings of a worker process, resolved against the project root. */
export function datasetDeps(config: TemporalWorkerConfig, root: string) {
  return {
    dvcBin: resolve(root, config.LIFECYCLE_VENV, 'bin/dvc'),
    python: resolve(root, config.LIFECYCLE_VENV, 'bin/python'),
    // Asks the DVC remote whether it holds a digest without downloading it (pipeline side of "pull once").
    remoteCheckScript: resolve(root, 'scripts/dataset/dvc-objects-check.py'),
    defaultRepo: config.DATASET_REPO ?? root,
    defaultPath: config.DATASET_PATH,
    cacheDir: resolve(root, config.DATA_CACHE_DIR),
    remoteUrl: config.DVC_REMOTE_URL,
  };
}
