import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fastifyPlugin from 'fastify-plugin';

/** OpenAPI generated from the route schemas: Swagger UI at /docs and the document at /docs/json (and /docs/yaml). */
export const docsPlugin: FastifyPluginAsync = fastifyPlugin(async (app) => {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Lifecycle inference API',
        description: 'Image classification with the model the Lifecycle fleet currently serves.',
        version: '1.0.0',
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
});
