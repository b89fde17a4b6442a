import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { preprocessImage } from '../../lib/model/preprocess';
import type { ApiMetrics } from '../../lib/metrics/api-metrics';
import type { InferenceClient } from '../../lib/queue/inference-client';
import { HttpError } from '../errors';
import { ActiveModelUnavailableError, type ActiveModelSource } from '../services/active-model-watcher';

export interface PredictRouteOptions {
  inference: Pick<InferenceClient, 'infer'>;
  activeModel: ActiveModelSource;
  metrics: ApiMetrics;
  maxImagePixels: number;
  requestTimeoutMs: number;
  /** Requests per client IP per minute; 0 = unlimited. Enforced by @fastify/rate-limit (registered in app.ts). */
  rateLimitPerMinute?: number;
}

const predictionSchema = {
  type: 'object',
  required: ['label', 'probability'],
  properties: { label: { type: 'string' }, probability: { type: 'number', minimum: 0, maximum: 1 } },
} as const;

const responseSchema = {
  type: 'object',
  required: ['request_id', 'model', 'predictions'],
  properties: {
    request_id: { type: 'string' },
    model: { type: 'object', required: ['name', 'version'], properties: { name: { type: 'string' }, version: { type: 'string' } } },
    predictions: { type: 'array', items: predictionSchema, maxItems: 5, description: 'Top 5 by probability, descending' },
  },
} as const;

const errorRef = { $ref: 'HttpError#' };

/** Outcome label of lifecycle_predictions_total: a handful of values, never a raw error message. */
function outcome(status: number): string {
  if (status < 400) return 'ok';
  if (status === 503) return 'unavailable';
  if (status === 504) return 'timeout';
  return status < 500 ? 'rejected' : 'error';
}

const servedVersion = new WeakMap<FastifyRequest, string>();

/** POST /predict: multipart upload (field img_file) -> top-5 classes from the served model. */
export const predictRoutes: FastifyPluginCallback<PredictRouteOptions> = (app, opts, done) => {
  app.post<{ Body: { img_file: MultipartFile } }>(
    '/predict',
    {
      config: opts.rateLimitPerMinute ? { rateLimit: { max: opts.rateLimitPerMinute, timeWindow: '1 minute' } } : {},
      schema: {
        summary: 'Classify an image with the served model',
        consumes: ['multipart/form-data'],
        body: {
          type: 'object',
          required: ['img_file'],
          properties: { img_file: { isFile: true, description: 'PNG, JPEG, WebP, GIF or TIFF image' } },
        },
        response: { 200: responseSchema, '4xx': errorRef, '5xx': errorRef },
      },
      // Reject non-multipart bodies before any parser runs, with the same 400 whatever the content type.
      onRequest: (request, _reply, next) => {
        const multipart = request.headers['content-type']?.toLowerCase().startsWith('multipart/form-data');
        next(multipart ? undefined : new HttpError(400, 'NOT_MULTIPART', 'Send a multipart/form-data body with the image in field img_file'));
      },
      onResponse: (request, reply, next) => {
        opts.metrics.predictions.inc({ model_version: servedVersion.get(request) ?? 'none', status: outcome(reply.statusCode) });
        next();
      },
    },
    async (request, reply) => {
      const receivedAt = Math.round(Date.now() - reply.elapsedTime);
      const active = opts.activeModel.current();
      if (!active) throw new ActiveModelUnavailableError();
      servedVersion.set(request, active.version);

      const image = await request.body.img_file.toBuffer();
      const tensor = await preprocessImage(image, active.metadata, { maxInputPixels: opts.maxImagePixels });
      const { input } = active.metadata;
      const result = await opts.inference.infer({
        requestId: request.id,
        model: active.name,
        dims: [1, input.channels, input.height, input.width],
        tensor,
        deadline: receivedAt + opts.requestTimeoutMs,
      });
      servedVersion.set(request, result.model.version);
      return { request_id: request.id, model: result.model, predictions: result.predictions };
    },
  );
  done();
};
