import { Redis } from 'ioredis';
import { envField } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { codeVersion, createWorker } from '../lib/temporal/start-worker';
import { runWorkerProcess } from '../lib/temporal/worker-process';
import { createPipelineActivities } from '../activities';
import { createRolloutActivities } from '../activities/rollout';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-pipeline'),
  /** How long a rollout waits for each inference worker to load a version. */
  DEPLOY_TIMEOUT_MS: envField.positiveInt(300_000),
  /** TTL of a model's rollout lease in Redis; renewed while a rollout runs, so a dead holder frees it soon. */
  ROLLOUT_LEASE_TTL_MS: envField.positiveInt(30_000),
});

/**
 * Pipeline worker: runs the lifecycle workflows (trainAndPromote alias
 * train-and-promote, promoteVersion, checkDatasetUpdates) and every
 * activity except training and evaluation: dataset resolution (no data
 * download), MLflow tracking and registry, and the rollout activities.
 */
runWorkerProcess('pipeline-worker', schema, async ({ config, root, connection, interceptors }) => {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  const mlflow = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const worker = await createWorker(connection, config, {
    taskQueue: config.TASK_QUEUE,
    workflowsPath: require.resolve('../workflows'),
    activities: {
      ...createPipelineActivities({ mlflow, gitCommit: codeVersion(root), datasets: datasetDeps(config, root) }),
      ...createRolloutActivities({ mlflow, redis, redisPrefix: config.REDIS_PREFIX, deployTimeoutMs: config.DEPLOY_TIMEOUT_MS, leaseTtlMs: config.ROLLOUT_LEASE_TTL_MS }),
    },
    // Rollout progress (worker i of n) reaches `describe()` and the CLI within a couple of seconds.
    maxHeartbeatThrottleInterval: '2 seconds',
    interceptors,
  });
  return { worker, close: () => Promise.resolve(redis.disconnect()) };
});
