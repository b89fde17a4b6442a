/**
 * Inference worker process: consumes the Redis inference queue in dynamic
 * batches with onnxruntime-node and follows the fleet's deploy commands.
 * Configuration: see workers/inference/config.ts (environment variables only).
 */
import { ConfigError } from '../lib/env';
import { createLogger } from '../lib/logger';
import { MlflowClient } from '../lib/mlflow/client';
import { loadInferenceWorkerConfig } from './inference/config';
import { InferenceWorker } from './inference/worker';

async function main(): Promise<void> {
  const config = loadInferenceWorkerConfig();
  const logger = createLogger('inference-worker', config.LOG_LEVEL);
  const registry = new MlflowClient({ trackingUri: config.MLFLOW_TRACKING_URI });
  const worker = await InferenceWorker.start({ config, registry, logger });

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: stopping now');
      void worker.abort().finally(() => process.exit(1));
      return;
    }
    logger.info({ signal }, 'shutting down gracefully');
    worker.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`inference-worker: ${err.message}\n`);
  } else {
    createLogger('inference-worker').fatal({ err }, 'inference worker failed to start');
  }
  process.exit(1);
});
