import type { FastifyError } from 'fastify';
import { PreprocessError } from '../../lib/model/preprocess';
import { DeadlineExceededError, InferenceFailedError, QueueClosedError, QueueFullError, QueueUnavailableError } from '../../lib/queue/errors';
import type { InferenceFailureCode } from '../../lib/queue/messages';
import { errorBody, HttpError, limitMessages, type ServingLimits } from '../errors';
import { ModelNotServedError } from '../services/served-models';
import fastifyPlugin from 'fastify-plugin';

const PREPROCESS_STATUS = { UNSUPPORTED_IMAGE: 415, IMAGE_TOO_LARGE: 422, IMAGE_CORRUPT: 422 } as const;
/** What a worker's failure code means for the client (image errors come back from the worker with DECODE_IN=worker). */
const INFERENCE_STATUS: Record<InferenceFailureCode, number> = {
  UNSUPPORTED_IMAGE: 415,
  IMAGE_TOO_LARGE: 422,
  IMAGE_CORRUPT: 422,
  INVALID_REQUEST: 500,
  INFERENCE_FAILED: 500,
};

/**
 * Maps the serving path's typed errors (and Fastify's own) to one HTTP error per stable code. `limits`
 * (the API's configuration) lets the size, count, backlog and deadline errors name their limit and variable;
 * `batch`: the request went to a /predict/batch route.
 */
export function toHttpError(err: unknown, retryAfterSeconds: number, limits: ServingLimits = {}, batch = false): HttpError {
  const retryAfter = { 'retry-after': String(retryAfterSeconds) };
  if (err instanceof HttpError) return err;
  if (err instanceof PreprocessError) return new HttpError(PREPROCESS_STATUS[err.code], err.code, err.message);
  if (err instanceof ModelNotServedError) {
    return err.code === 'NO_ACTIVE_MODEL' ? new HttpError(503, err.code, err.message, retryAfter) : new HttpError(404, err.code, err.message);
  }
  if (err instanceof QueueFullError) {
    return new HttpError(503, err.code, limitMessages.queueFull(limits, err.backlog, err.retryAfterSeconds), { 'retry-after': String(err.retryAfterSeconds) });
  }
  if (err instanceof QueueUnavailableError) return new HttpError(503, err.code, err.message, { 'retry-after': String(err.retryAfterSeconds) });
  if (err instanceof QueueClosedError) return new HttpError(503, err.code, 'The server is shutting down', retryAfter);
  if (err instanceof DeadlineExceededError) return new HttpError(504, err.code, limitMessages.deadline(limits, err.timeoutMs));
  if (err instanceof InferenceFailedError) return new HttpError(INFERENCE_STATUS[err.code], err.code, err.message);
  const fastifyError = err as Partial<FastifyError>;
  if (fastifyError.validation && fastifyError.validationContext === 'body') {
    return new HttpError(400, 'MISSING_IMAGE', 'Send the image as a file in the multipart field img_file');
  }
  if (fastifyError.validation && fastifyError.validationContext === 'params') {
    return new HttpError(400, 'INVALID_MODEL_NAME', fastifyError.message ?? 'Invalid model name');
  }
  if (fastifyError.code === 'FST_REQ_FILE_TOO_LARGE') return new HttpError(413, 'PAYLOAD_TOO_LARGE', limitMessages.uploadTooLarge(limits));
  if (fastifyError.code === 'FST_FILES_LIMIT') return new HttpError(413, 'TOO_MANY_FILES', limitMessages.tooManyFiles(limits, batch));
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HttpError(status, fastifyError.code ?? 'BAD_REQUEST', fastifyError.message ?? 'Bad request');
  }
  return new HttpError(500, 'INTERNAL_ERROR', 'Internal server error');
}

/** Every error leaves in Fastify's shape `{statusCode, code, error, message}`; 5xx are logged with their cause. */
export const errorHandlerPlugin = fastifyPlugin<{ retryAfterSeconds: number; limits?: ServingLimits }>((app, opts, done) => {
  app.setErrorHandler((err, request, reply) => {
    const batch = request.routeOptions.url?.endsWith('/batch') ?? false;
    const http = toHttpError(err, opts.retryAfterSeconds, opts.limits, batch);
    if (http.statusCode >= 500 && http.statusCode !== 503) request.log.error({ err, code: http.code }, 'request failed');
    else if (http.cause instanceof Error) request.log.warn({ code: http.code, message: http.message, cause: http.cause.message }, 'request rejected');
    else request.log.info({ code: http.code, message: http.message }, 'request rejected');
    void reply.code(http.statusCode).headers(http.headers).send(errorBody(http.statusCode, http.code, http.message));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, 'NOT_FOUND', `Route ${request.method}:${request.url} not found`));
  });
  done();
});
