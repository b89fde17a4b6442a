import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Metrics of the API process. `queueDepth` reads Redis at scrape time through `readQueueDepth`. */
export function createApiMetrics(registry: Registry, readQueueDepth: () => Promise<number>, queueLimit?: number) {
  const registers = [registry];
  const limit = new Gauge({
    name: 'lifecycle_inference_queue_limit',
    help: 'Backlog at which the API answers 503 QUEUE_FULL (MAX_QUEUE_LENGTH)',
    registers,
  });
  if (queueLimit !== undefined) limit.set(queueLimit);
  return {
    queueLimit: limit,
    httpDuration: new Histogram({
      name: 'lifecycle_http_request_duration_seconds',
      help: 'HTTP request duration by route template and status code',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    predictions: new Counter({
      name: 'lifecycle_predictions_total',
      help: 'Prediction requests by served model version and outcome',
      labelNames: ['model_version', 'status'] as const,
      registers,
    }),
    queueDepth: new Gauge({
      name: 'lifecycle_inference_queue_depth',
      help: 'Requests waiting in or being processed from the inference queue',
      registers,
      async collect() {
        try {
          this.set(await readQueueDepth());
        } catch {
          // Redis unreachable at scrape time: keep the last value; /readyz reports the outage.
        }
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
