import { connectRedis } from '../lib/queue/redis-connection';
import { envField } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { codeVersion, createWorker } from '../lib/temporal/start-worker';
import { runWorkerProcess } from '../lib/temporal/worker-process';
import { createPipelineActivities } from '../activities';
import { createRolloutActivities } from '../activities/rollout';
import { createAnalysisActivities } from '../activities/analysis';
import { PrometheusClient } from '../lib/metrics/prometheus-query';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-pipeline'),
  /** How long a rollout waits for each inference worker to load a version. */
  DEPLOY_TIMEOUT_MS: envField.positiveInt(300_000),
  /** TTL of a model's rollout lease in Redis; renewed while a rollout runs, so a dead holder frees it soon. */
  ROLLOUT_LEASE_TTL_MS: envField.positiveInt(30_000),
  /** The stack's Prometheus: the live analysis of a progressive rollout reads the per-version metrics there. */
  PROMETHEUS_URL: envField.url('http://127.0.0.1:9090'),
  /** Per-query timeout of the analysis against Prometheus. */
  PROMETHEUS_QUERY_TIMEOUT_MS: envField.positiveInt(10_000),
});

/**
 * Pipeline worker: runs the lifecycle workflows (trainAndPromote alias
 * train-and-promote, promoteVersion, checkDatasetUpdates) and every
 * activity except training and evaluation: dataset resolution (no data
 * download), MLflow tracking and registry, the rollout activities, and the
 * live analysis of progressive rollouts (against PROMETHEUS_URL).
 */
runWorkerProcess('pipeline-worker', schema, async ({ config, root, connection, interceptors }) => {
  const redis = connectRedis(config, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  const mlflow = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const worker = await createWorker(connection, config, {
    taskQueue: config.TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: {
      ...createPipelineActivities({ mlflow, gitCommit: codeVersion(root), datasets: datasetDeps(config, root) }),
      ...createRolloutActivities({ mlflow, redis, redisPrefix: config.REDIS_PREFIX, deployTimeoutMs: config.DEPLOY_TIMEOUT_MS, leaseTtlMs: config.ROLLOUT_LEASE_TTL_MS }),
      ...createAnalysisActivities({ prometheus: new PrometheusClient({ url: config.PROMETHEUS_URL, timeoutMs: config.PROMETHEUS_QUERY_TIMEOUT_MS }) }),
    },
    // Rollout progress (worker i of n) reaches `describe()` and the CLI within a couple of seconds.
    maxHeartbeatThrottleInterval: '2 seconds',
    interceptors,
  });
  return { worker, close: () => Promise.resolve(redis.disconnect()) };
});
