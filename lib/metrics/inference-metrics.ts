import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { VERSION_METRICS } from './version-metric-names';

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
    ...createVersionMetrics(registers),
  };
}

/**
 * Per-version metrics of a progressive rollout (names in version-metric-names.ts, the contract with the
 * analysis and the dashboard), the fallback counter, and the plan gauges the CanaryHeldTooLong alert reads.
 * Version labels stay bounded: a worker runs the champion and at most one candidate per model.
 */
function createVersionMetrics(registers: Registry[]) {
  const versioned = ['model', 'version'] as const;
  const plan = ['model', 'version', 'mode'] as const;
  return {
    versionRequests: new Counter({ name: VERSION_METRICS.requests, help: 'Examples a model version ran (answered, shadow or mirrored), by outcome', labelNames: [...versioned, 'outcome'] as const, registers }),
    versionInference: new Histogram({
      name: VERSION_METRICS.inferenceSeconds,
      help: 'Time of one onnxruntime run over a batch, by model version',
      labelNames: versioned,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    }),
    versionPredictions: new Counter({ name: VERSION_METRICS.predictions, help: 'Top-1 predicted class of each example a model version ran', labelNames: [...versioned, 'label'] as const, registers }),
    agreement: new Counter({ name: VERSION_METRICS.agreement, help: 'Examples both the champion and the candidate `version` ran, by top-1 agreement', labelNames: [...versioned, 'agree'] as const, registers }),
    trafficShare: new Gauge({ name: VERSION_METRICS.trafficShare, help: "The candidate's configured traffic share on this worker", labelNames: plan, registers }),
    trafficFallbacks: new Counter({
      name: 'lifecycle_traffic_fallbacks_total',
      help: 'Requests routed to the candidate that the champion answered (the candidate was not loaded on this worker)',
      labelNames: ['model'] as const,
      registers,
    }),
    trafficPlanSetAt: new Gauge({ name: 'lifecycle_traffic_plan_set_timestamp_seconds', help: "When the traffic plan's step began (epoch seconds)", labelNames: plan, registers }),
    trafficPlanMaxDuration: new Gauge({ name: 'lifecycle_traffic_plan_max_duration_seconds', help: "The traffic plan step's maximum duration", labelNames: plan, registers }),
  };
}

export type InferenceMetrics = ReturnType<typeof createInferenceMetrics>;

/**
 * Creates every per-version series of `version` at 0 as soon as a worker loads it (champion or
 * candidate). The analysis reads them with increase() over the step's window, and Prometheus's
 * increase() cannot count a series' first scraped value: a label series first created inside the
 * window (the first "Bag" a candidate predicts) would lose its first counts, skewing the
 * predicted-class distribution (a false class-distance failure) and the agreement and latency counts.
 */
export function initVersionSeries(metrics: InferenceMetrics, model: string, version: string, labels: readonly string[]): void {
  const v = { model, version };
  for (const outcome of ['ok', 'error']) metrics.versionRequests.inc({ ...v, outcome }, 0);
  metrics.versionInference.zero(v);
  for (const label of labels) metrics.versionPredictions.inc({ ...v, label }, 0);
  for (const agree of ['true', 'false']) metrics.agreement.inc({ ...v, agree }, 0);
}
