import { Redis } from 'ioredis';
import { loadConfig, envField } from '../lib/env';
import { createLogger } from '../lib/logger';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { codeVersion, connect, createWorker, installRuntime, projectRoot } from '../lib/temporal/start-worker';
import { createWorkerMetrics } from '../lib/temporal/worker-metrics';
import { activityMetricsInterceptor } from '../lib/temporal/activity-metrics';
import { startMetricsServer } from '../lib/metrics/metrics-server';
import { createPipelineActivities } from '../activities';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-pipeline'),
  DEPLOY_TIMEOUT_MS: envField.positiveInt(300_000),
});

/** Pipeline worker: runs trainAndPromote workflows and every non-training activity (DVC, MLflow, gate, rollout). */
async function main(): Promise<void> {
  const config = loadConfig(schema);
  const logger = createLogger('pipeline-worker', config.LOG_LEVEL);
  const root = projectRoot();
  installRuntime(config, logger);
  const metrics = createWorkerMetrics('pipeline-worker');
  const metricsServer = await startMetricsServer({ registry: metrics.registry, host: config.METRICS_HOST, port: config.METRICS_PORT, health: () => ({ ok: true }) });
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  const connection = await connect(config);
  const worker = await createWorker(connection, config, {
    taskQueue: config.TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: createPipelineActivities({
      mlflow: new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI }),
      redis,
      redisPrefix: config.REDIS_PREFIX,
      gitCommit: codeVersion(root),
      deployTimeoutMs: config.DEPLOY_TIMEOUT_MS,
      datasets: datasetDeps(config, root),
    }),
    interceptors: { activity: [activityMetricsInterceptor(metrics)] },
  });
  logger.info({ taskQueue: config.TASK_QUEUE, temporal: config.TEMPORAL_ADDRESS, metricsPort: metricsServer.port }, 'pipeline worker started');
  // Worker.run() resolves after SIGINT/SIGTERM once in-flight tasks finish; then close in reverse start order.
  await worker.run();
  await connection.close();
  redis.disconnect();
  await metricsServer.close();
  logger.info('pipeline worker stopped');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
