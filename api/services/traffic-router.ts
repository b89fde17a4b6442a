import { createHash } from 'node:crypto';
import type { TrafficState } from '../../lib/fleet/protocol';
import type { RequestVariant } from '../../lib/queue/messages';

/** Header whose value pins a caller to one version for the whole of a canary (sticky routing). */
export const STICKY_HEADER = 'x-lifecycle-key';

export interface Route {
  /** Who answers: the candidate on canary requests, otherwise the champion. */
  answeredBy: 'champion' | 'candidate';
  variant?: RequestVariant;
  candidateVersion?: string;
}

const CHAMPION: Route = { answeredBy: 'champion' };

/**
 * A key's place in [0, 1): the same key always lands on the same spot within
 * one rollout (the deployment id is hashed in), so raising a canary's share
 * keeps the keys already on the candidate there, and a new rollout draws anew.
 */
export function stickyUnit(deploymentId: string, key: string): number {
  return createHash('sha256').update(deploymentId).update('\0').update(key).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * Routes one request under a traffic plan (null: no plan, or the candidate is
 * not ready on every worker, so the champion answers). canary: `share` of the
 * requests (of the keys, with a sticky key) go to the candidate, and
 * `mirrorShare` of those run on the champion too; shadow: `share` of the
 * requests also run on the candidate after the champion answered.
 */
export function routeRequest(plan: TrafficState | null, key: string | undefined, random: () => number = Math.random): Route {
  if (!plan || plan.share <= 0) return CHAMPION;
  const candidateVersion = plan.version;
  if (plan.mode === 'shadow') return random() < plan.share ? { answeredBy: 'champion', variant: 'shadow', candidateVersion } : CHAMPION;
  const unit = key === undefined || key === '' ? random() : stickyUnit(plan.deploymentId, key);
  if (unit >= plan.share) return CHAMPION;
  return { answeredBy: 'candidate', variant: random() < plan.mirrorShare ? 'canary-mirror' : 'canary', candidateVersion };
}

/** The caller's X-Lifecycle-Key (the first one if repeated): one key sees one version during a canary. */
export function stickyKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const value = headers[STICKY_HEADER];
  return Array.isArray(value) ? value[0] : value;
}
