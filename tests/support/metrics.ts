import type { Registry } from 'prom-client';

type Sample = { value: number; metricName?: string; labels: Record<string, string | number> };

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  return (await metric.get()).values as Sample[];
}

/** Sum of a counter or gauge over all label sets. */
export async function metricTotal(registry: Registry, name: string): Promise<number> {
  return (await samples(registry, name)).reduce((a, s) => a + s.value, 0);
}

/** Count and sum of a histogram's observations. */
export async function histogramStats(registry: Registry, name: string): Promise<{ count: number; sum: number }> {
  const all = await samples(registry, name);
  const pick = (suffix: string) => all.filter((s) => s.metricName === `${name}${suffix}`).reduce((a, s) => a + s.value, 0);
  return { count: pick('_count'), sum: pick('_sum') };
}
