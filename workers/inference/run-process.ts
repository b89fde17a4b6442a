import { createLogger } from '../../lib/logger';
import { MlflowClient } from '../../lib/mlflow/client';
import { configureSharp } from '../../lib/model/sharp-config';
import { sizeThreadPool } from '../../lib/process/thread-pool';
import { exitOnSignal, runMain } from '../../lib/process/main';
import { loadInferenceWorkerConfig } from './config';
import { InferenceWorker, type InferenceWorkerOptions } from './worker';

/**
 * Runs an inference worker as this process: configuration from the environment, MLflow as the registry,
 * graceful stop on SIGTERM. `extra` is for programs that run the worker with something added (the drills'
 * faulty worker); the production entry point adds nothing.
 */
export function runInferenceWorkerProcess(extra: Pick<InferenceWorkerOptions, 'failGoldenCheck'> = {}): void {
  runMain('inference-worker', async () => {
    sizeThreadPool();
    const config = loadInferenceWorkerConfig();
    const logger = createLogger('inference-worker', config.LOG_LEVEL);
    configureSharp(config.SHARP_CONCURRENCY, logger);
    const registry = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
    const worker = await InferenceWorker.start({ config, registry, logger, ...extra });
    exitOnSignal(logger, { drain: () => worker.shutdown(), abort: () => worker.abort() });
  });
}
