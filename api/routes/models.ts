import type { FastifyPluginCallback } from 'fastify';
import type { WorkerStatus } from '../../lib/fleet/protocol';
import type { ServedModelSource } from '../services/served-models';
import type { TrafficSource } from '../services/served-traffic';

const servedSchema = {
  type: 'object',
  required: ['name', 'version', 'default', 'workers'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string', description: 'The version the fleet serves (the registry champion, or the target of a rollout in progress)' },
    default: { type: 'boolean', description: 'Served by POST /predict' },
    input: {
      type: 'object',
      properties: { height: { type: 'integer' }, width: { type: 'integer' }, channels: { type: 'integer' }, colorspace: { type: 'string' } },
    },
    labels: { type: 'array', items: { type: 'string' } },
    workers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['worker', 'state'],
        properties: {
          worker: { type: 'string' },
          version: { type: ['string', 'null'] },
          state: { type: 'string' },
          error: { type: 'string' },
          candidate: {
            type: 'object',
            description: "The traffic plan's candidate on this worker (a progressive rollout in progress)",
            properties: { version: { type: 'string' }, state: { type: 'string' }, error: { type: 'string', description: 'Load error code' } },
          },
        },
      },
    },
    traffic: {
      type: 'object',
      description: "A progressive rollout's shadow or canary plan; `routing` is false until every worker holds the candidate",
      properties: { version: { type: 'string' }, mode: { type: 'string' }, share: { type: 'number' }, mirrorShare: { type: 'number' }, routing: { type: 'boolean' }, since: { type: 'string' } },
    },
  },
} as const;

export interface ModelsRouteOptions {
  models: ServedModelSource;
  defaultModel: string;
  /** Live inference workers' statuses (Redis); an empty list when Redis is unreachable. */
  workers: () => Promise<WorkerStatus[]>;
  traffic?: TrafficSource;
}

/** GET /models: every served model, its version, input and labels, and the workers serving it with their state. */
export const modelsRoutes: FastifyPluginCallback<ModelsRouteOptions> = (app, opts, done) => {
  app.get(
    '/models',
    {
      schema: {
        summary: 'The models this API serves, with their version and the workers serving them',
        response: { 200: { type: 'object', required: ['models'], properties: { models: { type: 'array', items: servedSchema } } } },
      },
    },
    async () => {
      const statuses = await opts.workers().catch(() => []);
      const trafficOf = (model: string) => {
        const plan = opts.traffic?.plan?.(model);
        if (!plan) return undefined;
        const { version, mode, share, mirrorShare, setAt } = plan.state;
        return { version, mode, share, mirrorShare, routing: plan.routing, since: new Date(setAt).toISOString() };
      };
      return {
        models: opts.models.list().map((m) => ({
          name: m.name,
          version: m.version,
          default: m.name === opts.defaultModel,
          input: { height: m.metadata.input.height, width: m.metadata.input.width, channels: m.metadata.input.channels, colorspace: m.metadata.input.colorspace },
          labels: m.metadata.labels,
          workers: statuses.flatMap((w) => {
            const served = w.models[m.name];
            if (!served) return [];
            const { candidate } = served;
            return [
              {
                worker: w.workerId,
                version: served.version,
                state: w.state === 'draining' ? 'draining' : served.state,
                error: served.error,
                candidate: candidate && { version: candidate.version, state: candidate.state, error: candidate.error?.code },
              },
            ];
          }),
          traffic: trafficOf(m.name),
        })),
      };
    },
  );
  done();
};
