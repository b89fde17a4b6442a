import type { FastifyPluginCallback } from 'fastify';
import type { ReadinessProbe } from '../services/readiness';

const modelSchema = {
  type: ['object', 'null'],
  required: ['name', 'version'],
  properties: { name: { type: 'string' }, version: { type: 'string' } },
} as const;

const readinessSchema = {
  type: 'object',
  required: ['status', 'model', 'workers', 'instance'],
  properties: {
    status: { type: 'string', enum: ['ready', 'not_ready'] },
    reason: { type: 'string' },
    model: modelSchema,
    workers: { type: 'integer', description: 'Live workers ready on the default model\'s served version' },
    instance: { type: 'string', description: 'This API process (API_INSTANCE_ID)' },
  },
} as const;

/** GET /healthz: the process is alive. GET /readyz: it can serve predictions of the default model. */
export const healthRoutes: FastifyPluginCallback<{ readiness: ReadinessProbe; instanceId: string }> = (app, { readiness, instanceId }, done) => {
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
        summary: 'Readiness: Redis reachable, the default model is served and a worker is ready on it',
        response: { 200: readinessSchema, 503: readinessSchema },
      },
    },
    async (_request, reply) => {
      const r = await readiness();
      const body = { status: r.ready ? 'ready' : 'not_ready', reason: r.reason, model: r.model, workers: r.workers, instance: instanceId };
      return reply.code(r.ready ? 200 : 503).send(body);
    },
  );
  done();
};
