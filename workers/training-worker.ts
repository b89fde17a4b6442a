import { resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import { loadConfig, envField } from '../lib/env';
import { createLogger } from '../lib/logger';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { connect, createWorker, installRuntime, projectRoot } from '../lib/temporal/start-worker';
import { createWorkerMetrics } from '../lib/temporal/worker-metrics';
import { activityMetricsInterceptor } from '../lib/temporal/activity-metrics';
import { startMetricsServer } from '../lib/metrics/metrics-server';
import { createTrainingActivities } from '../activities';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-training'),
  METRICS_PORT: envField.port(9103),
  TEMPORAL_METRICS_PORT: envField.port(9465),
  /** Trainings this worker runs at once; each uses the machine's cores, so 1 by default. */
  MAX_CONCURRENT_TRAININGS: envField.positiveInt(1),
  TRAINER_SCRIPT: envField.string('trainer/train.py'),
  TRAINING_WORK_DIR: envField.string('.lifecycle/training'),
});

/** Training worker: serves only the trainModel activity, so training capacity scales on its own. */
async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger('training-worker', config.LOG_LEVEL);
  const root = projectRoot();
  installRuntime(config, logger);
  const metrics = createWorkerMetrics('training-worker');
  const metricsServer = await startMetricsServer({ registry: metrics.registry, host: config.METRICS_HOST, port: config.METRICS_PORT, health: () => ({ ok: true }) });
  const workDir = resolve(root, config.TRAINING_WORK_DIR);
  mkdirSync(workDir, { recursive: true });
  const connection = await connect(config);
  const worker = await createWorker(connection, config, {
    taskQueue: config.TASK_QUEUE,
    activities: createTrainingActivities({
      mlflow: new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI }),
      python: resolve(root, config.LIFECYCLE_VENV, 'bin/python'),
      trainerScript: resolve(root, config.TRAINER_SCRIPT),
      workDir,
      datasets: datasetDeps(config, root),
    }),
    maxConcurrentActivityTaskExecutions: config.MAX_CONCURRENT_TRAININGS,
    interceptors: { activity: [activityMetricsInterceptor(metrics)] },
  });
  logger.info({ taskQueue: config.TASK_QUEUE, temporal: config.TEMPORAL_ADDRESS, metricsPort: metricsServer.port }, 'training worker started');
  await worker.run();
  await connection.close();
  await metricsServer.close();
  logger.info('training worker stopped');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
