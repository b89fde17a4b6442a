import { Gauge, type Registry } from 'prom-client';
import type { DriftResult } from './drift-result';

/**
 * The newest drift check of each model, on the /metrics of the process that ran it
 * (a training worker's monitoring queue). Each check replaces the model's series: a
 * version that is no longer checked (a new champion) stops being exported, so a
 * panel never shows a stale flag for it. With several training workers, each
 * exports the checks it ran; `lifecycle_drift_checked_timestamp_seconds` tells
 * which is newest (see README, Monitoring).
 */
export function createDriftMetrics(registry: Registry) {
  const registers = [registry];
  const score = new Gauge({
    name: 'lifecycle_drift_score',
    help: 'Drift of the last monitored window per feature: normalised Wasserstein-1 (input features, confidence) or Jensen-Shannon distance (predicted class); above the threshold with a significant test = drifted',
    labelNames: ['model', 'version', 'feature'],
    registers,
  });
  const featureDrifted = new Gauge({
    name: 'lifecycle_drift_feature_drifted',
    help: '1 when the feature drifted in the last monitored window (distance above threshold and test significant)',
    labelNames: ['model', 'version', 'feature'],
    registers,
  });
  const detected = new Gauge({
    name: 'lifecycle_drift_detected',
    help: '1 when the last monitored window drifted (at least drift_share of its features drifted), 0 when not or not judged',
    labelNames: ['model', 'version'],
    registers,
  });
  const rows = new Gauge({ name: 'lifecycle_drift_window_rows', help: 'Logged requests in the last monitored window', labelNames: ['model', 'version'], registers });
  const checked = new Gauge({
    name: 'lifecycle_drift_checked_timestamp_seconds',
    help: 'End of the last monitored window (epoch seconds)',
    labelNames: ['model', 'version'],
    registers,
  });
  // prom-client removes a series by its exact labels only: remember what each model last exported.
  const exported = new Map<string, { version: string; features: string[] }>();
  return {
    record(result: DriftResult, untilMs: number): void {
      const previous = exported.get(result.model);
      if (previous) {
        const was = { model: result.model, version: previous.version };
        for (const feature of previous.features) for (const g of [score, featureDrifted]) g.remove({ ...was, feature });
        for (const g of [detected, rows, checked]) g.remove(was);
      }
      exported.set(result.model, { version: result.version, features: Object.keys(result.features) });
      const at = { model: result.model, version: result.version };
      for (const [feature, f] of Object.entries(result.features)) {
        if (f.distance !== null) score.set({ ...at, feature }, f.distance);
        featureDrifted.set({ ...at, feature }, f.drifted ? 1 : 0);
      }
      detected.set(at, result.drift ? 1 : 0);
      rows.set(at, result.rows);
      checked.set(at, untilMs / 1000);
    },
  };
}

export type DriftMetrics = ReturnType<typeof createDriftMetrics>;
