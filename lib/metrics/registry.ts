import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * One registry per process (per worker instance in tests), with the Node.js
 * process metrics. Never prom-client's global registry: in-process tests run
 * several workers side by side and each must count only its own work.
 */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}
