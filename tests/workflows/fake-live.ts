import type { LiveMetrics, VersionStats } from '../../lib/analysis/evidence';

const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function stats(version: string, n: number, o: Partial<VersionStats> = {}): VersionStats {
  return { version, requests: n, errors: 0, p99Seconds: 0.004, latencySamples: n, predictions: Object.fromEntries(CLASSES.map((c) => [c, n / CLASSES.length])), ...o };
}

/** What Prometheus would say about a candidate that behaves like the champion: n examples each, 97% agreement. */
export function healthyLive(champion: string, candidate: string, n = 1000): LiveMetrics {
  return { champion: stats(champion, n), candidate: stats(candidate, n), agreement: { agree: Math.round(0.97 * n), total: n }, windowSeconds: 60 };
}

/** A candidate that answers differently from the champion (an inverted-image model): 20% agreement, one class. */
export function badLive(champion: string, candidate: string, n = 1000): LiveMetrics {
  return { champion: stats(champion, n), candidate: stats(candidate, n, { predictions: { Bag: n } }), agreement: { agree: Math.round(0.2 * n), total: n }, windowSeconds: 60 };
}

/** Too little traffic to judge anything. */
export function quietLive(champion: string, candidate: string): LiveMetrics {
  return healthyLive(champion, candidate, 10);
}
