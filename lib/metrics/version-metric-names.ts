/**
 * Per-version serving metrics: the contract between the inference workers
 * that export them and the progressive-rollout analysis (and dashboard) that
 * query them through Prometheus. `version` is the model version that ran the
 * example, whether its answer went to the user or not (shadow runs included).
 */
export const VERSION_METRICS = {
  /** Counter {model, version, outcome: "ok" | "error"}: examples a version ran (answered, shadow or mirrored). */
  requests: 'lifecycle_version_requests_total',
  /** Histogram {model, version}: seconds of one onnxruntime run over a batch by that version. */
  inferenceSeconds: 'lifecycle_version_inference_seconds',
  /** Counter {model, version, label}: top-1 predicted class of each example a version ran. */
  predictions: 'lifecycle_version_predictions_total',
  /** Counter {model, version, agree: "true" | "false"}: examples both the champion and candidate `version` ran, by top-1 agreement. */
  agreement: 'lifecycle_version_agreement_total',
  /** Gauge {model, version, mode: "shadow" | "canary"}: the candidate's configured traffic share, per worker. */
  trafficShare: 'lifecycle_traffic_share',
  /** Counter {model, version, outcome: "correct" | "wrong"}, exported by the API: ground-truth feedback on the answers `version` gave. */
  feedback: 'lifecycle_feedback_total',
} as const;
