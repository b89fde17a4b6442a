/**
 * API process: Fastify on HOST:PORT in front of the Redis inference queue.
 * Configuration: see api/config.ts (environment variables only).
 */
import type { FastifyInstance } from 'fastify';
import { createLogger, type Logger } from '../lib/logger';
import { exitOnSignal, runMain } from '../lib/process/main';
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

  exitOnSignal(logger, { drain: () => api.close(), timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
}

if (require.main === module) runMain('api', main);
