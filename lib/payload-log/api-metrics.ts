import { VERSION_METRICS } from '../metrics/version-metric-names';
import { Counter, Gauge, type Registry } from 'prom-client';
import { createPayloadLogErrorsCounter } from './payload-writer';

export interface AccuracyWindow {
  version: string;
  n: number;
  correct: number;
}

/**
 * API-side metrics of the payload log and feedback. Labels take served model
 * names and their versions only. The live-accuracy gauges are read from the
 * rolling windows in Redis at scrape time, so every API instance reports the
 * same value (the window is shared; the counters are per instance and summed).
 */
export function createPayloadLogMetrics(registry: Registry, readWindows: () => Promise<Map<string, AccuracyWindow[]>>) {
  const registers = [registry];
  let last = new Map<string, AccuracyWindow[]>();
  // One Redis read per scrape for both gauges: prom-client collects metrics concurrently, so the
  // second collect joins the read the first one started while it is still in flight.
  let inflight: Promise<Map<string, AccuracyWindow[]>> | null = null;
  const read = (): Promise<Map<string, AccuracyWindow[]>> =>
    (inflight ??= readWindows()
      .then(
        (windows) => (last = windows),
        () => last, // Redis unreachable at scrape time: keep the last values
      )
      .finally(() => (inflight = null)));
  const liveAccuracy = new Gauge({
    name: 'lifecycle_live_accuracy',
    help: 'Share of correct predictions among the last LIVE_ACCURACY_WINDOW feedback outcomes, per model version',
    labelNames: ['model', 'version'] as const,
    registers,
    async collect() {
      this.reset();
      for (const [model, windows] of await read()) for (const w of windows) if (w.n > 0) this.set({ model, version: w.version }, w.correct / w.n);
    },
  });
  const liveAccuracySamples = new Gauge({
    name: 'lifecycle_live_accuracy_samples',
    help: 'Feedback outcomes in the rolling live-accuracy window, per model version (how much lifecycle_live_accuracy rests on)',
    labelNames: ['model', 'version'] as const,
    registers,
    async collect() {
      this.reset();
      for (const [model, windows] of await read()) for (const w of windows) this.set({ model, version: w.version }, w.n);
    },
  });
  return {
    liveAccuracy,
    liveAccuracySamples,
    errors: createPayloadLogErrorsCounter(registers),
    feedback: new Counter({
      name: VERSION_METRICS.feedback,
      help: 'Accepted ground-truth feedback (repeats not counted) per model, the version that answered, and whether it was right',
      labelNames: ['model', 'version', 'outcome'] as const,
      registers,
    }),
  };
}

export type PayloadLogMetrics = ReturnType<typeof createPayloadLogMetrics>;
