import type { FastifyPluginCallback } from 'fastify';
import type { WorkerStatus } from '../../../lib/fleet/protocol';
import { servesVersion } from '../../../lib/fleet/worker-statuses';
import { resolveServed } from '../../services/oip-metadata';
import type { Predictor } from '../../services/predictor';
import type { ReadinessProbe } from '../../services/readiness';
import { ModelNotServedError, type ServedModelSource } from '../../services/served-models';
import { modelParams, oipSchemas } from './schemas';

export interface OipHealthOptions {
  predictor: Predictor;
  models: ServedModelSource;
  readiness: ReadinessProbe;
  workers: () => Promise<WorkerStatus[]>;
}

/** The protocol answers health with the status: 200 true, 4xx false (400, as Triton does); the body says it too. */
const NOT = 400;

/**
 * GET /v2/health/live, /v2/health/ready (/readyz's check, and every served model has a ready worker on its
 * served version), /v2/models/{name}[/versions/{version}]/ready (404 for a model or version not served).
 */
export const oipHealthRoutes: FastifyPluginCallback<OipHealthOptions> = (app, opts, done) => {
  const readyWorkers = async (): Promise<WorkerStatus[]> => (await opts.workers().catch(() => [])).filter((w) => w.state === 'ready');
  const tags = ['Open Inference Protocol'];

  app.get('/health/live', { schema: { tags, summary: 'Server live', response: { 200: oipSchemas.live() } } }, () => Promise.resolve({ live: true }));

  app.get('/health/ready', { schema: { tags, summary: 'Server ready: every served model has a ready worker', response: { 200: oipSchemas.ready(), 400: oipSchemas.ready() } } }, async (_request, reply) => {
    const [probe, workers] = await Promise.all([opts.readiness(), readyWorkers()]);
    const models = opts.models.list();
    const ready = probe.ready && models.every((m) => workers.some((w) => servesVersion(w, m.name, m.version)));
    return reply.code(ready ? 200 : NOT).send({ ready });
  });

  const modelReady = async (name: string, version: string | undefined): Promise<boolean> => {
    let served;
    try {
      served = resolveServed(opts.predictor, name, version);
    } catch (err) {
      // The default model before its first champion is known but not ready; any other miss is a 404.
      if (err instanceof ModelNotServedError && err.code === 'NO_ACTIVE_MODEL' && version === undefined) return false;
      throw err;
    }
    return (await readyWorkers()).some((w) => servesVersion(w, served.name, served.version));
  };
  const schema = (summary: string) => ({ tags, summary, params: modelParams, response: { 200: oipSchemas.modelReady(), 400: oipSchemas.modelReady(), '4xx': oipSchemas.error(), '5xx': oipSchemas.error() } });
  app.get<{ Params: { name: string } }>('/models/:name/ready', { schema: schema('Model ready: a worker serves its served version') }, async (request, reply) => {
    const ready = await modelReady(request.params.name, undefined);
    return reply.code(ready ? 200 : NOT).send({ name: request.params.name, ready });
  });
  app.get<{ Params: { name: string; version: string } }>('/models/:name/versions/:version/ready', { schema: schema('Model version ready') }, async (request, reply) => {
    const ready = await modelReady(request.params.name, request.params.version);
    return reply.code(ready ? 200 : NOT).send({ name: request.params.name, ready });
  });
  done();
};
