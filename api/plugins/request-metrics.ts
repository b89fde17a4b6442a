import type { FastifyPluginCallback } from 'fastify';
import type { Registry } from 'prom-client';
import type { ApiMetrics } from '../../lib/metrics/api-metrics';
import { unencapsulated } from './unencapsulated';

/** Times every request by route template (not raw URL: bounded label values) and serves GET /metrics. */
export const requestMetricsPlugin: FastifyPluginCallback<{ registry: Registry; metrics: ApiMetrics }> = unencapsulated(
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
