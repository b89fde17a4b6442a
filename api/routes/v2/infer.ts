import { stickyKey } from '../../services/traffic-router';
import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiMetrics } from '../../../lib/metrics/api-metrics';
import { encodeBody, HEADER_LENGTH } from '../../../lib/oip/binary-data';
import type { InferenceRequest } from '../../../lib/oip/protocol';
import type { InferenceResult } from '../../../lib/queue/inference-client';
import { HttpError, type ServingLimits } from '../../errors';
import { readInputs, type OipInputLimits } from '../../services/oip-inputs';
import { resolveServed } from '../../services/oip-metadata';
import { buildResponse, topKFor, wantedOutputs } from '../../services/oip-outputs';
import type { Predictor } from '../../services/predictor';
import { outcome } from '../predict';
import { toOipError } from './errors';
import { modelParams, oipSchemas } from './schemas';

export interface OipInferOptions {
  predictor: Predictor;
  metrics: ApiMetrics;
  limits: OipInputLimits & ServingLimits & { maxBodyBytes: number };
  retryAfterSeconds: number;
  rateLimitPerMinute?: number;
  /** The binary data after the JSON of a request's body (set by the /v2 body parser). */
  binaryOf: (request: FastifyRequest) => Buffer;
}

type Params = { name: string; version?: string };

/**
 * POST /v2/models/{name}[/versions/{version}]/infer: the images of the one input go through the Predictor
 * as a /predict/batch does (same queue, batching, deadline, traffic and metrics), with every class's
 * probability asked of the worker when the `probabilities` output is wanted. One bad image fails the
 * request (the protocol has no per-item errors); a pinned version answered by another one mid-rollout is a 503.
 */
export const oipInferRoutes: FastifyPluginCallback<OipInferOptions> = (app, opts, done) => {
  const { predictor, metrics } = opts;
  const limited = opts.rateLimitPerMinute ? { rateLimit: { max: opts.rateLimitPerMinute, timeWindow: '1 minute' } } : {};
  const count = (model: string, version: string, status: number) => {
    if (predictor.serves(model)) metrics.predictions.inc({ model, model_version: version, status: outcome(status) });
  };
  const timed = (model: string, reply: FastifyReply, status: number) => {
    if (predictor.serves(model)) metrics.predictionDuration.observe({ model, status: outcome(status) }, reply.elapsedTime / 1000);
  };
  const statusOf = (err: unknown) => toOipError(err, opts.retryAfterSeconds, opts.limits).statusCode;

  const infer = async (request: FastifyRequest<{ Params: Params; Body: InferenceRequest }>, reply: FastifyReply) => {
    const receivedAt = Math.round(Date.now() - reply.elapsedTime);
    const { name, version } = request.params;
    let model;
    let counted = false;
    try {
      model = resolveServed(predictor, name, version);
      const outputs = wantedOutputs(request.body);
      const items = readInputs(request.body, opts.binaryOf(request), model, opts.limits);
      const outcomes = await predictor.predictBatch(model, items, request.id, receivedAt, {
        k: topKFor(outputs, model),
        key: stickyKey(request.headers),
        pinned: version !== undefined,
      });
      const failed = outcomes.find((o) => !o.ok);
      // Each image by its own outcome, as /predict/batch counts them (an image the model answered is `ok`
      // even when another image of the request fails it: the request's status is on the HTTP histogram).
      for (const o of outcomes) count(name, o.ok ? o.result.model.version : model.version, o.ok ? 200 : statusOf(o.error));
      counted = true;
      if (failed && !failed.ok) throw failed.error;
      const results: InferenceResult[] = outcomes.flatMap((o) => (o.ok ? [o.result] : []));
      const other = results.find((r) => version !== undefined && r.model.version !== version);
      if (other) {
        throw new HttpError(503, 'VERSION_CHANGED', `Version ${other.model.version} answered while version ${version} was asked for (a rollout is moving the fleet); retry in ${opts.retryAfterSeconds}s`, {
          'retry-after': String(opts.retryAfterSeconds),
        });
      }
      const { json, binary } = buildResponse(model, request.body.id ?? request.id, results, outputs);
      timed(name, reply, 200);
      if (binary.length === 0) return reply.type('application/json').send(json);
      const { body, headerLength } = encodeBody(json, binary);
      return reply.header(HEADER_LENGTH, String(headerLength)).type('application/octet-stream').send(body);
    } catch (err) {
      const status = statusOf(err);
      // A request refused before its images were run counts once; run images were counted one by one above.
      if (!counted) count(name, model?.version ?? 'none', status);
      timed(name, reply, status);
      throw err;
    }
  };

  const schema = (summary: string) => ({
    tags: ['Open Inference Protocol'],
    summary,
    consumes: ['application/json', 'application/octet-stream'],
    params: modelParams,
    body: oipSchemas.inferRequest(),
    response: { 200: oipSchemas.inferResponse(), '4xx': oipSchemas.error(), '5xx': oipSchemas.error() },
  });
  app.post('/models/:name/infer', { config: limited, bodyLimit: opts.limits.maxBodyBytes, schema: schema('Inference with the served version of a model') }, infer);
  app.post('/models/:name/versions/:version/infer', { config: limited, bodyLimit: opts.limits.maxBodyBytes, schema: schema('Inference with a given version (only the served one)') }, infer);
  done();
};
