/**
 * API process: Fastify on HOST:PORT in front of the Redis inference queue.
 * Configuration: see api/config.ts (environment variables only).
 */
import type { FastifyInstance } from 'fastify';
import { listWorkerStatuses } from '../lib/fleet/worker-statuses';
import { createLogger, type Logger } from '../lib/logger';
import { configureSharp } from '../lib/model/sharp-config';
import { sizeThreadPool } from '../lib/process/thread-pool';
import { exitOnSignal, runMain } from '../lib/process/main';
import { InferenceClient } from '../lib/queue/inference-client';
import { createRedisConnection, waitUntilReady } from '../lib/queue/redis-connection';
import { buildApp } from './app';
import { loadCredentials } from './services/feedback-auth';
import { loadApiConfig, type ApiConfig } from './config';
import { redisReadinessProbe } from './services/readiness';
import { ServedModels } from './services/served-models';
import { ServedTraffic } from './services/served-traffic';

export interface RunningApi {
  app: FastifyInstance;
  inference: InferenceClient;
  /** Stop accepting, wait for in-flight requests, then stop the queue client and close Redis (reverse start order). */
  close(): Promise<void>;
}

/** Wires Redis, the queue client and the served-models view into the app; listens unless `listen` is false. */
export async function startApi(config: ApiConfig, logger: Logger, opts: { listen?: boolean } = {}): Promise<RunningApi> {
  const credentials = loadCredentials(config); // a bad credential stops the start, before any connection
  const redis = createRedisConnection(config, { name: `api:${config.API_INSTANCE_ID}`, logger, autoPipelining: true, commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS });
  const replyReader = createRedisConnection(config, { name: `api:${config.API_INSTANCE_ID}:replies`, logger, role: 'blocking' });
  // Redis may be down at start: the API still starts (and says so on /readyz) and serves once it is back.
  if (!(await waitUntilReady(redis, 3000))) logger.warn('Redis is not reachable yet; answering 503 until it is');
  const inference = new InferenceClient({
    redis,
    replyReader,
    prefix: config.REDIS_PREFIX,
    instanceId: config.API_INSTANCE_ID,
    maxQueueLength: config.MAX_QUEUE_LENGTH,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    logger,
  });
  const models = new ServedModels({ redis, prefix: config.REDIS_PREFIX, refreshMs: config.ACTIVE_MODEL_REFRESH_MS, logger });
  const traffic = new ServedTraffic({ redis, prefix: config.REDIS_PREFIX, refreshMs: config.ACTIVE_MODEL_REFRESH_MS, logger });
  inference.start();
  await models.start();
  await traffic.start();
  const app = await buildApp({
    config,
    inference,
    models,
    traffic,
    readiness: redisReadinessProbe(redis, config.REDIS_PREFIX, models, config.MODEL_NAME),
    workers: () => listWorkerStatuses(redis, config.REDIS_PREFIX),
    logger,
    payloadLog: { redis, prefix: config.REDIS_PREFIX, config, credentials },
  });
  if (opts.listen ?? true) await app.listen({ port: config.PORT, host: config.HOST });

  let closing: Promise<void> | null = null;
  const close = async () => {
    await app.close(); // waits for in-flight requests, which still need the queue client
    models.stop();
    traffic.stop();
    await inference.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  return { app, inference, close: () => (closing ??= close()) };
}

async function main(): Promise<void> {
  sizeThreadPool();
  const config = loadApiConfig();
  const logger = createLogger('api', config.LOG_LEVEL);
  configureSharp(config.SHARP_CONCURRENCY, logger);
  const api = await startApi(config, logger);
  logger.info({ port: config.PORT, instance: config.API_INSTANCE_ID, decodeIn: config.DECODE_IN, defaultModel: config.MODEL_NAME }, 'api started');
  exitOnSignal(logger, { drain: () => api.close(), timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
}

if (require.main === module) runMain('api', main);
