import type { FastifyPluginCallback } from 'fastify';
import type { ReadinessProbe } from '../services/readiness';

const modelSchema = {
  type: ['object', 'null'],
  required: ['name', 'version'],
  properties: { name: { type: 'string' }, version: { type: 'string' } },
} as const;

const readinessSchema = {
  type: 'object',
  required: ['status', 'model', 'workers'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    reason: { type: 'string' },
    model: modelSchema,
    workers: { type: 'integer', description: 'Live workers ready on the served version' },
  },
} as const;

/** GET /healthz: the process is alive. GET /readyz: it can serve predictions. */
export const healthRoutes: FastifyPluginCallback<{ readiness: ReadinessProbe }> = (app, { readiness }, done) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Liveness: the process is up',
        response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } } },
      },
    },
    (_request, reply) => {
      void reply.send({ status: 'ok' });
    },
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Readiness: Redis reachable, a model is active and a worker serves it',
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const r = await readiness();
      const body = { status: r.ready ? 'ready' : 'not_ready', reason: r.reason, model: r.model, workers: r.workers };
      return reply.code(r.ready ? 200 : 503).send(body);
    },
  );
  done();
};
