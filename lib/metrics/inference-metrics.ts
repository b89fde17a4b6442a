import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Metrics of an inference worker. Names are the contract with the Grafana dashboard and alert rules. */
export function createInferenceMetrics(registry: Registry) {
  const registers = [registry];
  return {
    batchSize: new Histogram({
      name: 'lifecycle_inference_batch_size',
      help: 'Examples per inference batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    inferenceDuration: new Histogram({
      name: 'lifecycle_inference_duration_seconds',
      help: 'Time of one onnxruntime run over a batch',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    queueWait: new Histogram({
      name: 'lifecycle_inference_queue_wait_seconds',
      help: 'Time from enqueue by the API to the start of inference',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    processed: new Counter({ name: 'lifecycle_inference_requests_processed_total', help: 'Requests answered with predictions', registers }),
    expired: new Counter({ name: 'lifecycle_inference_requests_expired_total', help: 'Requests skipped because their deadline had passed', registers }),
    failed: new Counter({
      name: 'lifecycle_inference_requests_failed_total',
      help: 'Requests answered with an error or dropped as malformed',
      labelNames: ['reason'] as const,
      registers,
    }),
    modelInfo: new Gauge({
      name: 'lifecycle_inference_model_info',
      help: 'The model this worker serves (value 1)',
      labelNames: ['name', 'version'] as const,
      registers,
    }),
  };
}

export type InferenceMetrics = ReturnType<typeof createInferenceMetrics>;
