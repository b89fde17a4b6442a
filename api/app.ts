import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import multipart, { ajvFilePlugin } from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { WorkerStatus } from '../lib/fleet/protocol';
import { createApiMetrics } from '../lib/metrics/api-metrics';
import { createMetricsRegistry } from '../lib/metrics/registry';
import type { InferenceClient } from '../lib/queue/inference-client';
import type { ApiConfig } from './config';
import { AccessLog } from './access-log';
import { errorSchema, HttpError } from './errors';
import { docsPlugin } from './plugins/docs';
import { setUpPayloadLog, type PayloadLogDeps } from './plugins/payload-log';
import { errorHandlerPlugin } from './plugins/error-handler';
import { requestMetricsPlugin } from './plugins/request-metrics';
import { feedbackRoutes } from './routes/feedback';
import { healthRoutes } from './routes/health';
import { modelsRoutes } from './routes/models';
import { predictRoutes } from './routes/predict';
import { oipRoutes } from './routes/v2';
import { Predictor } from './services/predictor';
import type { ReadinessProbe } from './services/readiness';
import type { ServedModelSource } from './services/served-models';
import type { TrafficSource } from './services/served-traffic';

export interface AppDeps {
  config: Pick<ApiConfig, 'MAX_UPLOAD_BYTES' | 'MAX_IMAGE_PIXELS' | 'REQUEST_TIMEOUT_MS' | 'RETRY_AFTER_SECONDS' | 'MODEL_NAME'> &
    Partial<Pick<ApiConfig, 'MAX_QUEUE_LENGTH' | 'RATE_LIMIT_PER_MINUTE' | 'MAX_BATCH_FILES' | 'DECODE_IN' | 'DECODE_IN_WORKER_MAX_BYTES' | 'API_INSTANCE_ID'>>;
  /** The Redis queue client in production; a fake in route tests. */
  inference: Pick<InferenceClient, 'inferMany' | 'queueDepth'>;
  models: ServedModelSource;
  /** Traffic plans of progressive rollouts (absent: the champion answers everything). */
  traffic?: TrafficSource;
  readiness: ReadinessProbe;
  /** Live inference workers (GET /models). */
  workers?: () => Promise<WorkerStatus[]>;
  logger: Logger;
  /** One registry per process; defaults to a fresh one. */
  metricsRegistry?: Registry;
  /** Prediction records, the payload log and POST /feedback; without it, none of them. */
  payloadLog?: PayloadLogDeps;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** Honours a well-formed incoming x-request-id (so callers can correlate logs), else makes one. */
function requestId(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
}

/** Builds the API (routes, plugins, hooks) without listening, so tests can `inject` or listen on port 0. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config } = deps;
  const registry = deps.metricsRegistry ?? createMetricsRegistry();
  const queueDepths = async () => new Map(await Promise.all(deps.models.list().map(async (m) => [m.name, await deps.inference.queueDepth(m.name)] as const)));
  const metrics = createApiMetrics(registry, queueDepths, config.MAX_QUEUE_LENGTH);
  const maxBatchFiles = config.MAX_BATCH_FILES ?? 32;
  const payloadLog = deps.payloadLog
    ? setUpPayloadLog(deps.payloadLog, { registry, models: deps.models, traffic: deps.traffic, defaultModel: config.MODEL_NAME, retryAfterSeconds: config.RETRY_AFTER_SECONDS, logger: deps.logger })
    : null;

  // Explicit type arguments keep the default FastifyInstance type although the logger is a pino Logger.
  const app = Fastify<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: deps.logger,
    genReqId: requestId,
    // The upload is parsed by @fastify/multipart; `isFile` lets the body schema (and OpenAPI) describe it.
    // allowUnionTypes: the /v2 schemas (generated from zod) type protocol parameters as `type: [string, number, boolean, null]`.
    ajv: { plugins: [ajvFilePlugin], customOptions: { allowUnionTypes: true } },
    // Idle keep-alive sockets are closed on shutdown; requests in flight complete.
    forceCloseConnections: 'idle',
    logController: new AccessLog(),
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

  const limits = { maxUploadBytes: config.MAX_UPLOAD_BYTES, maxBatchFiles, maxQueueLength: config.MAX_QUEUE_LENGTH, requestTimeoutMs: config.REQUEST_TIMEOUT_MS };
  await app.register(errorHandlerPlugin, { retryAfterSeconds: config.RETRY_AFTER_SECONDS, limits });
  await app.register(requestMetricsPlugin, { registry, metrics });
  await app.register(docsPlugin);
  // Only routes that opt in (the prediction routes, when RATE_LIMIT_PER_MINUTE > 0) are limited; 429 goes through the error handler.
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per ${context.after} exceeded; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  await app.register(multipart, {
    attachFieldsToBody: true,
    limits: { fileSize: config.MAX_UPLOAD_BYTES, files: 1, fields: 10, parts: maxBatchFiles + 10 },
  });
  await app.register(healthRoutes, { readiness: deps.readiness, instanceId: config.API_INSTANCE_ID ?? 'api' });
  await app.register(modelsRoutes, { models: deps.models, defaultModel: config.MODEL_NAME, workers: deps.workers ?? (() => Promise.resolve([])), traffic: deps.traffic });
  // One Predictor for /predict and the Open Inference Protocol: the same queue, batching, deadlines and traffic.
  const predictor = new Predictor({
    inference: deps.inference,
    models: deps.models,
    traffic: deps.traffic,
    defaultModel: config.MODEL_NAME,
    decodeIn: config.DECODE_IN ?? 'auto',
    workerDecodeMaxBytes: config.DECODE_IN_WORKER_MAX_BYTES ?? 64 * 1024,
    maxImagePixels: config.MAX_IMAGE_PIXELS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    sampleForLog: payloadLog ? (model) => payloadLog.sampler.sampled(model) : undefined,
  });
  await app.register(predictRoutes, {
    predictor,
    metrics,
    maxBatchFiles,
    limits,
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    recorder: payloadLog?.recorder,
  });
  await app.register(oipRoutes, {
    prefix: '/v2',
    predictor,
    models: deps.models,
    readiness: deps.readiness,
    workers: deps.workers ?? (() => Promise.resolve([])),
    metrics,
    limits: { ...limits, maxBatchFiles },
    retryAfterSeconds: config.RETRY_AFTER_SECONDS,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
  });
  if (payloadLog) {
    await app.register(feedbackRoutes, payloadLog.routes);
    // Records still being written when the app closes are finished before Redis is closed.
    app.addHook('onClose', () => payloadLog.recorder.settled());
  }
  return app;
}
