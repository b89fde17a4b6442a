import type { FastifyPluginCallback } from 'fastify';
import { modelMetadata, OIP_EXTENSIONS, resolveServed, SERVER_VERSION } from '../../services/oip-metadata';
import type { Predictor } from '../../services/predictor';
import { modelParams, oipSchemas } from './schemas';

/** GET /v2 (server metadata) and GET /v2/models/{name}[/versions/{version}] (model metadata). */
export const oipMetadataRoutes: FastifyPluginCallback<{ predictor: Predictor }> = (app, { predictor }, done) => {
  const tags = ['Open Inference Protocol'];
  app.get('', { schema: { tags, summary: 'Server metadata', response: { 200: oipSchemas.server() } } }, (_request, reply) => {
    void reply.send({ name: 'lifecycle', version: SERVER_VERSION, extensions: [...OIP_EXTENSIONS] });
  });
  const schema = (summary: string) => ({ tags, summary, params: modelParams, response: { 200: oipSchemas.model(), '4xx': oipSchemas.error(), '5xx': oipSchemas.error() } });
  app.get<{ Params: { name: string } }>('/models/:name', { schema: schema('Model metadata: tensors at the model\'s geometry, labels as a parameter') }, (request, reply) => {
    void reply.send(modelMetadata(resolveServed(predictor, request.params.name)));
  });
  app.get<{ Params: { name: string; version: string } }>('/models/:name/versions/:version', { schema: schema('Model version metadata (the served version only)') }, (request, reply) => {
    void reply.send(modelMetadata(resolveServed(predictor, request.params.name, request.params.version)));
  });
  done();
};
