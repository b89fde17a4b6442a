import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { Redis } from 'ioredis';
import { createPipelineActivities, createTrainingActivities } from '../../../activities';
import type { MlflowClient } from '../../../lib/mlflow/client';
import { ROOT, TEMPORAL_ADDRESS, VENV_BIN } from './env';

let runtimeInstalled = false;

export interface LifecycleWorkers {
  pipelineQueue: string;
  trainingQueue: string;
  /** Shuts both workers down (in-flight tasks finish) and closes the connection. */
  close(): Promise<void>;
}

/**
 * The pipeline and training workers exactly as the worker processes wire them
 * (real activities, real trainer, real DVC), on test-unique task queues.
 */
export async function startLifecycleWorkers(opts: { mlflow: MlflowClient; redis: Redis; redisPrefix: string; id: string }): Promise<LifecycleWorkers> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  const cacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-cache-'));
  const datasets = { dvcBin: join(VENV_BIN, 'dvc'), defaultRepo: ROOT, defaultPath: 'dvc/data/fashion-mnist-v2', cacheDir };
  const pipelineQueue = `${opts.id}-pipeline`;
  const trainingQueue = `${opts.id}-training`;
  const pipeline = await Worker.create({
    connection,
    taskQueue: pipelineQueue,
    workflowsPath: require.resolve('../../../workflows'),
    activities: createPipelineActivities({ mlflow: opts.mlflow, redis: opts.redis, redisPrefix: opts.redisPrefix, datasets, gitCommit: 'test', deployTimeoutMs: 60_000 }),
  });
  const training = await Worker.create({
    connection,
    taskQueue: trainingQueue,
    activities: createTrainingActivities({
      mlflow: opts.mlflow,
      datasets,
      python: join(VENV_BIN, 'python'),
      trainerScript: join(ROOT, 'trainer/train.py'),
      workDir: mkdtempSync(join(tmpdir(), 'lifecycle-train-')),
    }),
  });
  const running = Promise.all([pipeline.run(), training.run()]);
  return {
    pipelineQueue,
    trainingQueue,
    close: async () => {
      pipeline.shutdown();
      training.shutdown();
      await running;
      await connection.close();
    },
  };
}
