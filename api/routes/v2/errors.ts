import type { FastifyError, FastifyReply } from 'fastify';
import { TensorDataError } from '../../../lib/oip/binary-data';
import type { ErrorResponse } from '../../../lib/oip/protocol';
import { formatBytes, HttpError, type ServingLimits } from '../../errors';
import { toHttpError } from '../../plugins/error-handler';

/**
 * The serving path's errors as the protocol wants them: the status of the other routes (400 bad tensor,
 * 404 unknown model or version, 413, 415, 422, 429, 503 with Retry-After, 504), body `{error, code}`.
 */
export function toOipError(err: unknown, retryAfterSeconds: number, limits: ServingLimits & { maxBodyBytes?: number }): HttpError {
  if (err instanceof TensorDataError) return new HttpError(400, err.code, err.message);
  const fastifyError = err as Partial<FastifyError>;
  if (fastifyError.validation) {
    const what = fastifyError.validationContext === 'body' ? 'The inference request' : 'The path';
    return new HttpError(400, 'INVALID_REQUEST', `${what} is invalid: ${fastifyError.message ?? 'validation failed'}`);
  }
  if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = limits.maxBodyBytes === undefined ? '' : ` of ${formatBytes(limits.maxBodyBytes)} (MAX_UPLOAD_BYTES x MAX_BATCH_FILES, base64 included)`;
    return new HttpError(413, 'PAYLOAD_TOO_LARGE', `The request body is larger than the limit${limit}`);
  }
  return toHttpError(err, retryAfterSeconds, limits, true);
}

export function sendOipError(reply: FastifyReply, http: HttpError): FastifyReply {
  const body: ErrorResponse = { error: http.message, code: http.code };
  return reply.code(http.statusCode).headers(http.headers).type('application/json').send(body);
}
