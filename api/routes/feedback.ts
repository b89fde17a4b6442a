import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { HttpError } from '../errors';
import type { Credential, FeedbackAuth } from '../services/feedback-auth';
import type { FeedbackResult, FeedbackService } from '../services/feedback-service';
import { fresh, modelNameParams } from './schemas';

/** Items one POST /feedback takes: a labelling tool sends a page of answers at once, a bound keeps one request short. */
export const MAX_FEEDBACK_ITEMS = 100;

// Unknown properties are ignored (Fastify's validator strips them before the handler sees the body).
const itemSchema = z.object({
  request_id: z.string().min(1).max(256).describe('The request_id of a prediction (`<request_id>#<index>` for an image of a batch)'),
  label: z.string().min(1).max(256).describe("The true label: one of the model's labels"),
});
/** One item, or an array of 1..MAX_FEEDBACK_ITEMS items. */
export const feedbackBodySchema = z.union([itemSchema, z.array(itemSchema).min(1).max(MAX_FEEDBACK_ITEMS)]);

const itemResultJson = {
  type: 'object',
  required: ['statusCode', 'request_id'],
  properties: {
    statusCode: { type: 'integer', description: '202 accepted or duplicate; else the error status of this item' },
    request_id: { type: 'string' },
    status: { type: 'string', enum: ['accepted', 'duplicate'] },
    model: { type: 'string' },
    version: { type: 'string', description: 'The version that answered the request' },
    predicted: { type: 'string', description: 'Its top-1 label' },
    correct: { type: 'boolean' },
    code: { type: 'string' },
    error: { type: 'string' },
    message: { type: 'string' },
  },
} as const;

/** Error bodies, with the request id when the error is about one item. */
const errorJson = {
  type: 'object',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: { statusCode: { type: 'integer' }, code: { type: 'string' }, error: { type: 'string' }, message: { type: 'string' }, request_id: { type: 'string' } },
} as const;

const batchResultJson = {
  type: 'object',
  required: ['results', 'accepted', 'failed'],
  properties: {
    results: { type: 'array', items: { ...itemResultJson, properties: { ...itemResultJson.properties, index: { type: 'integer' } } } },
    accepted: { type: 'integer', description: 'Items answered 202 (accepted or duplicate)' },
    failed: { type: 'integer' },
  },
} as const;

export interface FeedbackRouteOptions {
  auth: FeedbackAuth;
  service: FeedbackService;
}

type Params = { name?: string };

/**
 * POST /feedback and POST /models/{name}/feedback: ground truth for logged
 * predictions, with a labeller credential. One object -> that item's status
 * (202, 404, 409, 422, 500 or 503) and body. An array -> 200 with one result per
 * item in order, each with its own statusCode (a bad item fails alone).
 */
export const feedbackRoutes: FastifyPluginCallback<FeedbackRouteOptions> = (app, opts, done) => {
  // Credentials first, before the body is even parsed: an anonymous caller learns nothing about the body or the request ids.
  const credentials = new WeakMap<FastifyRequest, Credential>();
  const authorize = (request: FastifyRequest, _reply: FastifyReply, next: (err?: Error) => void) => {
    try {
      credentials.set(request, opts.auth.authorize(request.headers.authorization));
      next();
    } catch (err) {
      next(err as Error);
    }
  };
  const handler = async (request: FastifyRequest<{ Params: Params }>, reply: FastifyReply) => {
    const credential = credentials.get(request)!;
    if (request.validationError?.validationContext === 'params') throw new HttpError(400, 'INVALID_MODEL_NAME', request.validationError.message);
    const body = feedbackBodySchema.safeParse(request.body);
    if (!body.success) {
      const why = body.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
      throw new HttpError(400, 'INVALID_FEEDBACK', `Send {"request_id", "label"} or an array of 1 to ${MAX_FEEDBACK_ITEMS} of them (${why})`);
    }
    const items = Array.isArray(body.data) ? body.data : [body.data];
    const results = await opts.service.submit(request.params.name, items, credential);
    request.log.info({ labeller: credential.name, items: items.length, accepted: results.filter((r) => r.statusCode === 202).length }, 'feedback');
    if (!Array.isArray(body.data)) {
      const only = results[0]!;
      return reply.code(only.statusCode).send(only);
    }
    const accepted = results.filter((r) => r.statusCode === 202).length;
    return reply.code(200).send({ results: results.map((r: FeedbackResult, index) => ({ index, ...r })), accepted, failed: results.length - accepted });
  };

  const schema = (withName: boolean) => ({
    summary: withName ? 'Ground truth for predictions of a model' : 'Ground truth for predictions (any served model)',
    description: `Authorization: Bearer <token> of a credential with role labeller. Body: {"request_id", "label"} or an array of up to ${MAX_FEEDBACK_ITEMS}.`,
    ...(withName ? { params: fresh(modelNameParams) } : {}),
    body: z.toJSONSchema(feedbackBodySchema, { target: 'draft-7' }),
    response: { 200: batchResultJson, 202: itemResultJson, '4xx': errorJson, '5xx': errorJson },
  });
  // The body is validated by zod in the handler (after the credential check), with a feedback-specific 400.
  app.post<{ Params: Params }>('/feedback', { schema: schema(false), attachValidation: true, onRequest: authorize }, handler);
  app.post<{ Params: Params }>('/models/:name/feedback', { schema: schema(true), attachValidation: true, onRequest: authorize }, handler);
  done();
};
