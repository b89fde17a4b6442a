/**
 * API process: Fastify on HOST:PORT in front of the Redis inference queue.
 * Configuration: see api/config.ts (environment variables only).
 */
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '../lib/env';
import { createLogger, type Logger } from '../lib/logger';
import { InferenceClient } from '../lib/queue/inference-client';
import { createRedisConnection } from '../lib/queue/redis-connection';
import { buildApp } from './app';
import { loadApiConfig, type ApiConfig } from './config';
import { ActiveModelWatcher } from './services/active-model-watcher';
import { redisReadinessProbe } from './services/readiness';

export interface RunningApi {
  app: FastifyInstance;
  /** Stop accepting, wait for in-flight requests, then stop the queue client and close Redis (reverse start order). */
  close(): Promise<void>;
}

/** Wires Redis, the queue client and the model watcher into the app; listens unless `listen` is false. */
export async function startApi(config: ApiConfig, logger: Logger, opts: { listen?: boolean } = {}): Promise<RunningApi> {
  const redis = createRedisConnection(config.REDIS_URL, { name: `api:${config.API_INSTANCE_ID}`, logger });
  const replyReader = createRedisConnection(config.REDIS_URL, { name: `api:${config.API_INSTANCE_ID}:replies`, logger, blocking: true });
  const inference = new InferenceClient({
    redis,
    replyReader,
    prefix: config.REDIS_PREFIX,
    instanceId: config.API_INSTANCE_ID,
    maxQueueLength: config.MAX_QUEUE_LENGTH,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    logger,
  });
  const watcher = new ActiveModelWatcher({ redis, prefix: config.REDIS_PREFIX, refreshMs: config.ACTIVE_MODEL_REFRESH_MS, logger });
  await inference.start();
  await watcher.start();
  const app = await buildApp({
    config,
    inference,
    activeModel: watcher,
    readiness: redisReadinessProbe(redis, config.REDIS_PREFIX),
    logger,
  });
  if (opts.listen ?? true) await app.listen({ port: config.PORT, host: config.HOST });

  let closing: Promise<void> | null = null;
  const close = async () => {
    await app.close(); // waits for in-flight requests, which still need the queue client
    watcher.stop();
    await inference.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  return { app, close: () => (closing ??= close()) };
}

async function main(): Promise<void> {
  const config = loadApiConfig();
  const logger = createLogger('api', config.LOG_LEVEL);
  const api = await startApi(config, logger);

  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'shutting down gracefully');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'in-flight requests did not finish in time; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    api.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`api: ${err.message}\n`);
    else createLogger('api').fatal({ err }, 'api failed to start');
    process.exit(1);
  });
}
