import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import multipart, { ajvFilePlugin } from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createApiMetrics } from '../lib/metrics/api-metrics';
import { createMetricsRegistry } from '../lib/metrics/registry';
import type { InferenceClient } from '../lib/queue/inference-client';
import type { ApiConfig } from './config';
import { errorSchema, HttpError } from './errors';
import { docsPlugin } from './plugins/docs';
import { errorHandlerPlugin } from './plugins/error-handler';
import { requestMetricsPlugin } from './plugins/request-metrics';
import { healthRoutes } from './routes/health';
import { predictRoutes } from './routes/predict';
import type { ActiveModelSource } from './services/active-model-watcher';
import type { ReadinessProbe } from './services/readiness';

export interface AppDeps {
  config: Pick<ApiConfig, 'MAX_UPLOAD_BYTES' | 'MAX_IMAGE_PIXELS' | 'REQUEST_TIMEOUT_MS' | 'RETRY_AFTER_SECONDS'> &
    Partial<Pick<ApiConfig, 'MAX_QUEUE_LENGTH' | 'RATE_LIMIT_PER_MINUTE'>>;
  /** The Redis queue client in production; a fake in route tests. */
  inference: Pick<InferenceClient, 'infer' | 'queueDepth'>;
  activeModel: ActiveModelSource;
  readiness: ReadinessProbe;
  logger: Logger;
  /** One registry per process; defaults to a fresh one. */
  metricsRegistry?: Registry;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Honours a well-formed incoming x-request-id (so callers can correlate logs), else makes one. */
function requestId(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds the API (routes, plugins, hooks) without listening, so tests can `inject` or listen on port 0. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const registry = deps.metricsRegistry ?? createMetricsRegistry();
  const metrics = createApiMetrics(registry, () => deps.inference.queueDepth(), deps.config.MAX_QUEUE_LENGTH);

  // Explicit type arguments keep the default FastifyInstance type although the logger is a pino Logger.
  const app = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: deps.logger,
    genReqId: requestId,
    // The upload is parsed by @fastify/multipart; `isFile` lets the body schema (and OpenAPI) describe it.
    ajv: { plugins: [ajvFilePlugin] },
    // Idle keep-alive sockets are closed on shutdown; requests in flight complete.
    forceCloseConnections: 'idle',
  });
  // Draining: responses to requests still in flight at close tell keep-alive clients to go away, so the
  // server's close does not wait for their idle sockets (Fastify's keepAliveTimeout is 72 s).
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  app.addSchema(errorSchema);

  await app.register(errorHandlerPlugin, { retryAfterSeconds: deps.config.RETRY_AFTER_SECONDS });
  await app.register(requestMetricsPlugin, { registry, metrics });
  await app.register(docsPlugin);
  // Only routes that opt in (POST /predict, when RATE_LIMIT_PER_MINUTE > 0) are limited; 429 goes through the error handler.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  await app.register(multipart, {
    attachFieldsToBody: true,
    limits: { fileSize: deps.config.MAX_UPLOAD_BYTES, files: 1, fields: 10, parts: 20 },
  });
  await app.register(healthRoutes, { readiness: deps.readiness });
  await app.register(predictRoutes, {
    inference: deps.inference,
    activeModel: deps.activeModel,
    metrics,
    maxImagePixels: deps.config.MAX_IMAGE_PIXELS,
    requestTimeoutMs: deps.config.REQUEST_TIMEOUT_MS,
    rateLimitPerMinute: deps.config.RATE_LIMIT_PER_MINUTE,
  });
  return app;
}
