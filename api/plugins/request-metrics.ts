import type { Registry } from 'prom-client';
import type { ApiMetrics } from '../../lib/metrics/api-metrics';
import fastifyPlugin from 'fastify-plugin';

/** Times every request by route template (not raw URL: bounded label values) and serves GET /metrics. */
export const requestMetricsPlugin = fastifyPlugin<{ registry: Registry; metrics: ApiMetrics }>(
  (app, { registry, metrics }, done) => {
    app.addHook('onResponse', (request, reply, next) => {
      metrics.httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      next();
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      return reply.type(registry.contentType).send(await registry.metrics());
    });
    done();
  },
);
