import { gunzipSync, inflateSync } from 'node:zlib';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { WorkerStatus } from '../../../lib/fleet/protocol';
import type { ApiMetrics } from '../../../lib/metrics/api-metrics';
import { HEADER_LENGTH, splitBody, TensorDataError } from '../../../lib/oip/binary-data';
import { HttpError, type ServingLimits } from '../../errors';
import type { Predictor } from '../../services/predictor';
import type { ReadinessProbe } from '../../services/readiness';
import type { ServedModelSource } from '../../services/served-models';
import { sendOipError, toOipError } from './errors';
import { oipHealthRoutes } from './health';
import { oipInferRoutes } from './infer';
import { oipMetadataRoutes } from './metadata';

export interface OipRouteOptions {
  predictor: Predictor;
  models: ServedModelSource;
  readiness: ReadinessProbe;
  workers: () => Promise<WorkerStatus[]>;
  metrics: ApiMetrics;
  limits: ServingLimits & { maxUploadBytes: number; maxBatchFiles: number };
  retryAfterSeconds: number;
  rateLimitPerMinute?: number;
}

/**
 * The Open Inference Protocol (KServe v2) REST API, registered under /v2. Its own scope: one body parser
 * for JSON and for JSON followed by binary tensors (whatever the content type says, as clients differ),
 * and errors in the protocol's shape `{error, code}`.
 */
export const oipRoutes: FastifyPluginAsync<OipRouteOptions> = async (app, opts) => {
  const { maxUploadBytes, maxBatchFiles } = opts.limits;
  // Room for every image base64-encoded in JSON (4/3) and the JSON around them.
  const maxBodyBytes = Math.ceil((maxUploadBytes * 4) / 3 + 64) * maxBatchFiles + 1024 * 1024;
  const limits = { ...opts.limits, maxItems: maxBatchFiles, maxItemBytes: maxUploadBytes, maxBodyBytes };
  const binaries = new WeakMap<FastifyRequest, Buffer>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (request, raw, done) => {
    try {
      const body = decompress(raw as Buffer, request.headers['content-encoding'], maxBodyBytes);
      const { json, binary } = splitBody(body, request.headers[HEADER_LENGTH]);
      binaries.set(request, binary);
      done(null, json);
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.setErrorHandler((err, request, reply) => {
    const http = toOipError(err, opts.retryAfterSeconds, limits);
    if (http.statusCode >= 500 && http.statusCode !== 503) request.log.error({ err, code: http.code }, 'request failed');
    else request.log.info({ code: http.code, message: http.message }, 'request rejected');
    return sendOipError(reply, http);
  });
  app.setNotFoundHandler((request, reply) => sendOipError(reply, new HttpError(404, 'NOT_FOUND', `Route ${request.method}:${request.url} not found`)));

  await app.register(oipMetadataRoutes, { predictor: opts.predictor });
  await app.register(oipHealthRoutes, { predictor: opts.predictor, models: opts.models, readiness: opts.readiness, workers: opts.workers });
  await app.register(oipInferRoutes, {
    predictor: opts.predictor,
    metrics: opts.metrics,
    limits,
    retryAfterSeconds: opts.retryAfterSeconds,
    rateLimitPerMinute: opts.rateLimitPerMinute,
    binaryOf: (request) => binaries.get(request) ?? Buffer.alloc(0),
  });
};

/** Request bodies compressed by the client (tritonclient's request_compression_algorithm), bounded like raw ones. */
function decompress(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer {
  const e = encoding?.trim().toLowerCase();
  if (e === undefined || e === '' || e === 'identity') return body;
  try {
    if (e === 'gzip') return gunzipSync(body, { maxOutputLength: maxBytes });
    if (e === 'deflate') return inflateSync(body, { maxOutputLength: maxBytes });
  } catch (err) {
    throw new TensorDataError('INVALID_JSON', `The ${e} body could not be decompressed within ${maxBytes} bytes: ${(err as Error).message}`);
  }
  throw new HttpError(415, 'UNSUPPORTED_ENCODING', `Content-Encoding ${encoding} is not supported (gzip, deflate or none)`);
}
