import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { envField } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { createWorker } from '../lib/temporal/start-worker';
import { runWorkerProcess } from '../lib/temporal/worker-process';
import { createMonitoringActivities, createTrainingActivities } from '../activities';
import { createDriftMetrics } from '../lib/monitoring/drift-metrics';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-training'),
  METRICS_PORT: envField.port(9103),
  TEMPORAL_METRICS_PORT: envField.port(9465),
  /** Trainings this worker runs at once; each uses the machine's cores, so 1 by default. */
  MAX_CONCURRENT_TRAININGS: envField.positiveInt(1),
  TRAINER_SCRIPT: envField.string('trainer/train.py'),
  /** Logs the trained ONNX file as an MLflow-native model (MLmodel, signature, input example). */
  LOG_MODEL_SCRIPT: envField.string('trainer/log_mlflow_model.py'),
  TRAINING_WORK_DIR: envField.string('.lifecycle/training'),
  /** At most this long between heartbeats reaching the server: epoch progress and the newest checkpoint (what a retry resumes from). */
  HEARTBEAT_THROTTLE_MS: envField.positiveInt(2000),
  /** Drift checks (monitorModel) are served on this queue, beside TASK_QUEUE, with their own concurrency. */
  MONITORING_TASK_QUEUE: envField.string('ml-monitoring'),
  MAX_CONCURRENT_MONITORS: envField.positiveInt(2),
  MONITOR_SCRIPT: envField.string('trainer/monitor_drift.py'),
  /** Root of the payload log's Parquet files: the payload logger's PAYLOAD_LOG_DIR (a shared volume in production). */
  PAYLOAD_LOG_DIR: envField.string('.lifecycle/payload-log'),
});

/**
 * Training worker: serves trainModel (the only place dataset files are
 * materialised) and evaluateVersion (the fair gate's champion re-evaluation,
 * which needs the same data), so training capacity scales on its own; and,
 * on MONITORING_TASK_QUEUE, the drift checks (the same Python environment).
 */
runWorkerProcess('training-worker', schema, async ({ config, root, connection, interceptors, registry }) => {
  const workDir = resolve(root, config.TRAINING_WORK_DIR);
  mkdirSync(workDir, { recursive: true });
  const mlflow = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const python = resolve(root, config.LIFECYCLE_VENV, 'bin/python');
  const monitoring = await createWorker(connection, config, {
    taskQueue: config.MONITORING_TASK_QUEUE,
    activities: createMonitoringActivities({
      mlflow,
      python,
      script: resolve(root, config.MONITOR_SCRIPT),
      payloadDir: resolve(root, config.PAYLOAD_LOG_DIR),
      workDir,
      metrics: createDriftMetrics(registry),
      datasets: datasetDeps(config, root),
    }),
    maxConcurrentActivityTaskExecutions: config.MAX_CONCURRENT_MONITORS,
    interceptors,
  });
  const worker = await createWorker(connection, config, {
    taskQueue: config.TASK_QUEUE,
    activities: createTrainingActivities({
      mlflow,
      python,
      trainerScript: resolve(root, config.TRAINER_SCRIPT),
      logModelScript: resolve(root, config.LOG_MODEL_SCRIPT),
      workDir,
      datasets: datasetDeps(config, root),
    }),
    maxConcurrentActivityTaskExecutions: config.MAX_CONCURRENT_TRAININGS,
    // Epoch progress and the newest checkpoint reach the server (and the CLI) every ~2 s, not every 80% of the heartbeat timeout.
    maxHeartbeatThrottleInterval: config.HEARTBEAT_THROTTLE_MS,
    interceptors,
  });
  return { worker, companions: [monitoring] };
});
