import { Counter, Histogram } from 'prom-client';
import { createMetricsRegistry } from '../metrics/registry';

/** Metrics of a Temporal worker process, beside the SDK's own exporter. */
export function createWorkerMetrics(processName: string) {
  const registry = createMetricsRegistry();
  registry.setDefaultLabels({ process: processName });
  return {
    registry,
    activityDuration: new Histogram({
      name: 'lifecycle_activity_duration_seconds',
      help: 'Wall time of Lifecycle activities, by activity and outcome',
      labelNames: ['activity', 'outcome'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 180, 600, 1800],
      registers: [registry],
    }),
    activityTotal: new Counter({
      name: 'lifecycle_activities_total',
      help: 'Completed Lifecycle activity attempts, by activity and outcome',
      labelNames: ['activity', 'outcome'],
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;
