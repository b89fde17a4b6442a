import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Metrics of an inference worker, labelled by registered model name (bounded:
 * a worker serves at most MAX_MODELS_PER_WORKER models). Names are the
 * contract with the Grafana dashboard and alert rules.
 */
export function createInferenceMetrics(registry: Registry) {
  const registers = [registry];
  const model = ['model'] as const;
  return {
    batchSize: new Histogram({
      name: 'lifecycle_inference_batch_size',
      help: 'Examples per inference batch',
      labelNames: model,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers,
    }),
    inferenceDuration: new Histogram({
      name: 'lifecycle_inference_duration_seconds',
      help: 'Time of one onnxruntime run over a batch',
      labelNames: model,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    queueWait: new Histogram({
      name: 'lifecycle_inference_queue_wait_seconds',
      help: 'Time from enqueue by the API to the start of inference',
      labelNames: model,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    processed: new Counter({ name: 'lifecycle_inference_requests_processed_total', help: 'Requests answered with predictions', labelNames: model, registers }),
    expired: new Counter({ name: 'lifecycle_inference_requests_expired_total', help: 'Requests skipped because their deadline had passed', labelNames: model, registers }),
    reclaimed: new Counter({
      name: 'lifecycle_inference_requests_reclaimed_total',
      help: 'Requests taken over from a dead or frozen worker',
      labelNames: model,
      registers,
    }),
    recovered: new Counter({
      name: 'lifecycle_inference_requests_recovered_total',
      help: 'Requests pending under a live worker that it was not working on (delivery or reply lost on the way), read again from its own history',
      labelNames: model,
      registers,
    }),
    failed: new Counter({
      name: 'lifecycle_inference_requests_failed_total',
      help: 'Requests answered with an error or dropped as malformed',
      labelNames: ['model', 'reason'] as const,
      registers,
    }),
    modelInfo: new Gauge({
      name: 'lifecycle_inference_model_info',
      help: 'The model versions this worker serves (value 1 per served model)',
      labelNames: ['name', 'version'] as const,
      registers,
    }),
    modelLoads: new Counter({
      name: 'lifecycle_inference_model_loads_total',
      help: 'Model loads (download, verification, golden check, warm-up) by model and outcome',
      labelNames: ['model', 'outcome'] as const,
      registers,
    }),
  };
}

export type InferenceMetrics = ReturnType<typeof createInferenceMetrics>;
