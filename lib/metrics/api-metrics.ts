import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Metrics of the API process. `queueDepth` reads each served model's backlog
 * from Redis at scrape time through `readQueueDepths`. The `model` label takes
 * registered model names only (requests for unknown models are counted on
 * the HTTP histogram, not here), so cardinality stays bounded.
 */
export function createApiMetrics(registry: Registry, readQueueDepths: () => Promise<Map<string, number>>, queueLimit?: number) {
  const registers = [registry];
  const limit = new Gauge({
    name: 'lifecycle_inference_queue_limit',
    help: 'Backlog per model at which the API answers 503 QUEUE_FULL (MAX_QUEUE_LENGTH)',
    registers,
  });
  if (queueLimit !== undefined) limit.set(queueLimit);
  return {
    queueLimit: limit,
    httpDuration: new Histogram({
      name: 'lifecycle_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    predictionDuration: new Histogram({
      name: 'lifecycle_prediction_duration_seconds',
      help: 'Time to answer one prediction request (single or batch) by model and outcome, from receipt to reply',
      labelNames: ['model', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    predictions: new Counter({
      name: 'lifecycle_predictions_total',
      help: 'Predicted images by model, the version that answered and outcome',
      labelNames: ['model', 'model_version', 'status'] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'lifecycle_inference_queue_depth',
      help: 'Requests waiting in or being processed from a model\'s inference queue',
      labelNames: ['model'] as const,
      registers,
      async collect() {
        try {
          for (const [model, depth] of await readQueueDepths()) this.set({ model }, depth);
        } catch {
          // Redis unreachable at scrape time: keep the last values; /readyz reports the outage.
        }
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
