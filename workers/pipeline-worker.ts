import { Redis } from 'ioredis';
import { envField } from '../lib/env';
import { MlflowClient } from '../lib/mlflow/client';
import { datasetDeps, temporalWorkerSchema } from '../lib/temporal/worker-config';
import { codeVersion, createWorker } from '../lib/temporal/start-worker';
import { runWorkerProcess } from '../lib/temporal/worker-process';
import { createPipelineActivities } from '../activities';

const schema = temporalWorkerSchema.extend({
  TASK_QUEUE: envField.string('ml-pipeline'),
  DEPLOY_TIMEOUT_MS: envField.positiveInt(300_000),
});

/** Pipeline worker: runs trainAndPromote workflows and every non-training activity (DVC, MLflow, gate, rollout). */
runWorkerProcess('pipeline-worker', schema, async ({ config, root, connection, interceptors }) => {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
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
    interceptors,
  });
  return { worker, close: () => Promise.resolve(redis.disconnect()) };
});
