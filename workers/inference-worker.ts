/**
 * Inference worker process: serves its models' request streams in dynamic
 * batches with onnxruntime-node and follows the fleet's rollouts.
 * Configuration: see workers/inference/config.ts (environment variables only).
 */
import { createLogger } from '../lib/logger';
import { MlflowClient } from '../lib/mlflow/client';
import { configureSharp } from '../lib/model/sharp-config';
import { sizeThreadPool } from '../lib/process/thread-pool';
import { exitOnSignal, runMain } from '../lib/process/main';
import { loadInferenceWorkerConfig } from './inference/config';
import { InferenceWorker } from './inference/worker';

async function main(): Promise<void> {
  sizeThreadPool();
  const config = loadInferenceWorkerConfig();
  const logger = createLogger('inference-worker', config.LOG_LEVEL);
  configureSharp(config.SHARP_CONCURRENCY, logger);
  const registry = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const worker = await InferenceWorker.start({ config, registry, logger });

  exitOnSignal(logger, { drain: () => worker.shutdown(), abort: () => worker.abort() });
}

runMain('inference-worker', main);
