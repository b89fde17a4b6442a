import type { MultipartFile } from '@fastify/multipart';
import type { FastifyInstance, FastifyPluginCallback, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { ApiMetrics } from '../../lib/metrics/api-metrics';
import { errorBody, HttpError, type ServingLimits } from '../errors';
import { toHttpError } from '../plugins/error-handler';
import type { PredictionRecorder } from '../services/prediction-recorder';
import type { Predictor } from '../services/predictor';
import { stickyKey } from '../services/traffic-router';
import { batchImagesBody, batchResponseSchema, errorRef, fresh, modelNameParams, predictResponseSchema, singleImageBody } from './schemas';

export interface PredictRouteOptions {
  predictor: Predictor;
  metrics: ApiMetrics;
  maxBatchFiles: number;
  retryAfterSeconds: number;
  /** Named in the limit errors of per-image results (deadline, backlog). */
  limits?: ServingLimits;
  /** Requests per client IP per minute; 0 = unlimited. Enforced by @fastify/rate-limit (registered in app.ts). */
  rateLimitPerMinute?: number;
  /** Records answered images for feedback and the payload log, after the reply is decided (fire-and-forget). */
  recorder?: Pick<PredictionRecorder, 'record'>;
}

/** Outcome label of lifecycle_predictions_total: a handful of values, never a raw error message. */
export function outcome(status: number): string {
  if (status < 400) return 'ok';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  return status < 500 ? 'rejected' : 'error';
}

type Params = { name?: string };

type SingleBody = { img_file: MultipartFile };
type BatchBody = { img_file: MultipartFile[] };

/** Reject non-multipart bodies before any parser runs, with the same 400 whatever the content type. */
function requireMultipart(request: FastifyRequest, _reply: FastifyReply, next: (err?: Error) => void): void {
  const multipart = request.headers['content-type']?.toLowerCase().startsWith('multipart/form-data');
  next(multipart ? undefined : new HttpError(400, 'NOT_MULTIPART', 'Send a multipart/form-data body with the image in field img_file'));
}

/**
 * POST /predict and /predict/batch (the default model), POST /models/{name}/predict
 * and /models/{name}/predict/batch (any served model): multipart uploads in field
 * img_file -> the top-5 classes from the version of the model the fleet serves.
 */
export const predictRoutes: FastifyPluginCallback<PredictRouteOptions> = (app, opts, done) => {
  const { predictor, metrics } = opts;
  const limited = opts.rateLimitPerMinute ? { rateLimit: { max: opts.rateLimitPerMinute, timeWindow: '1 minute' } } : {};
  const count = (model: string, version: string, status: number) => metrics.predictions.inc({ model, model_version: version, status: outcome(status) });
  const receivedAt = (reply: FastifyReply) => Math.round(Date.now() - reply.elapsedTime);
  /** Latency by model, for requests that reached a served model (unknown names stay out of the label values). */
  const timed = (model: string, reply: FastifyReply, status: number) => {
    if (predictor.serves(model)) metrics.predictionDuration.observe({ model, status: outcome(status) }, reply.elapsedTime / 1000);
  };

  const single = (withName: boolean): RouteShorthandOptions => ({
    config: limited,
    schema: {
      summary: withName ? 'Classify an image with the served version of a model' : `Classify an image with the default model (${predictor.defaultModel})`,
      consumes: ['multipart/form-data'],
      ...(withName ? { params: fresh(modelNameParams) } : {}),
      body: fresh(singleImageBody),
      response: { 200: fresh(predictResponseSchema), '4xx': errorRef, '5xx': errorRef },
    },
    onRequest: requireMultipart,
  });

  const batch = (withName: boolean): RouteShorthandOptions => ({
    config: { ...limited, multipartOptions: { limits: { files: opts.maxBatchFiles } } },
    schema: {
      summary: withName ? 'Classify several images with the served version of a model' : `Classify several images with the default model (${predictor.defaultModel})`,
      description: `Up to ${opts.maxBatchFiles} parts named img_file. One result per image in upload order; a bad image gets its own error and does not fail the others.`,
      consumes: ['multipart/form-data'],
      ...(withName ? { params: fresh(modelNameParams) } : {}),
      body: batchImagesBody(opts.maxBatchFiles),
      response: { 200: fresh(batchResponseSchema), '4xx': errorRef, '5xx': errorRef },
    },
    onRequest: requireMultipart,
    // One part arrives as an object, several as an array: the handler and the schema see an array.
    preValidation: (request, _reply, next) => {
      const body = request.body as { img_file?: unknown } | undefined;
      if (body?.img_file !== undefined && !Array.isArray(body.img_file)) body.img_file = [body.img_file];
      next();
    },
  });

  const predictOne = async (request: FastifyRequest<{ Params: Params; Body: SingleBody }>, reply: FastifyReply) => {
    const started = receivedAt(reply);
    const modelName = request.params.name ?? predictor.defaultModel;
    let version = 'none';
    try {
      const model = predictor.resolve(request.params.name);
      version = model.version;
      const bytes = await request.body.img_file.toBuffer();
      const result = await predictor.predict(model, { bytes, filename: request.body.img_file.filename }, request.id, started, stickyKey(request.headers));
      version = result.model.version;
      count(modelName, version, 200);
      timed(modelName, reply, 200);
      opts.recorder?.record(model, [{ requestId: request.id, result }]);
      return { request_id: request.id, model: result.model, predictions: result.predictions };
    } catch (err) {
      const status = toHttpError(err, opts.retryAfterSeconds).statusCode;
      if (predictor.serves(modelName)) count(modelName, version, status);
      timed(modelName, reply, status);
      throw err;
    }
  };

  const predictMany = async (request: FastifyRequest<{ Params: Params; Body: BatchBody }>, reply: FastifyReply) => {
    const started = receivedAt(reply);
    const modelName = request.params.name ?? predictor.defaultModel;
    let outcomes: Awaited<ReturnType<Predictor['predictBatch']>>;
    let uploads: Array<{ bytes: Buffer; filename: string }>;
    let model: ReturnType<Predictor['resolve']>;
    try {
      model = predictor.resolve(request.params.name);
      uploads = await Promise.all(request.body.img_file.map(async (f) => ({ bytes: await f.toBuffer(), filename: f.filename })));
      outcomes = await predictor.predictBatch(model, uploads, request.id, started, { key: stickyKey(request.headers) });
    } catch (err) {
      const status = toHttpError(err, opts.retryAfterSeconds).statusCode;
      if (predictor.serves(modelName)) count(modelName, 'none', status);
      timed(modelName, reply, status);
      throw err;
    }
    const results = outcomes.map((o, index) => {
      const filename = uploads[index]?.filename;
      if (o.ok) {
        count(modelName, o.result.model.version, 200);
        return { index, filename, model: o.result.model, predictions: o.result.predictions };
      }
      const http = toHttpError(o.error, opts.retryAfterSeconds, opts.limits, true);
      count(modelName, model.version, http.statusCode);
      return { index, filename, error: errorBody(http.statusCode, http.code, http.message) };
    });
    timed(modelName, reply, 200);
    // Batch images are known to feedback as `<request_id>#<index>`, the ids they were queued with.
    opts.recorder?.record(model, outcomes.flatMap((o, i) => (o.ok ? [{ requestId: `${request.id}#${i}`, result: o.result }] : [])));
    return { request_id: request.id, results };
  };

  const register = (instance: FastifyInstance, prefix: string, withName: boolean) => {
    instance.post<{ Params: Params; Body: SingleBody }>(`${prefix}/predict`, single(withName), predictOne);
    instance.post<{ Params: Params; Body: BatchBody }>(`${prefix}/predict/batch`, batch(withName), predictMany);
  };
  register(app, '', false);
  register(app, '/models/:name', true);
  done();
};
