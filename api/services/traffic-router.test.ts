import type { TrafficState } from '../../lib/fleet/protocol';
import { testMetadata } from '../../tests/support/metadata';
import { routeRequest, stickyUnit } from './traffic-router';

const plan = (overrides: Partial<TrafficState> = {}): TrafficState => ({
  version: '2',
  mode: 'canary',
  share: 0.3,
  mirrorShare: 0.25,
  deploymentId: 'd-1',
  setAt: 1,
  candidate: { name: 'm', version: '2', sha256: 'a'.repeat(64), artifactUri: 'x', metadata: testMetadata() },
  ...overrides,
});

/** A seeded generator, so shares are checked on a fixed sequence (no flaky bounds). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('routeRequest', () => {
  it('sends everything to the champion without a plan or with share 0', () => {
    expect(routeRequest(null, undefined)).toEqual({ answeredBy: 'champion' });
    expect(routeRequest(plan({ share: 0 }), 'k', () => 0)).toEqual({ answeredBy: 'champion' });
  });

  it('canary: the candidate answers about `share` of 10,000 requests, mirrored on about `mirrorShare` of those', () => {
    const random = seeded(42);
    const routes = Array.from({ length: 10_000 }, () => routeRequest(plan(), undefined, random));
    const candidate = routes.filter((r) => r.answeredBy === 'candidate');
    expect(candidate.length / routes.length).toBeCloseTo(0.3, 1);
    expect(candidate.every((r) => r.candidateVersion === '2' && (r.variant === 'canary' || r.variant === 'canary-mirror'))).toBe(true);
    expect(candidate.filter((r) => r.variant === 'canary-mirror').length / candidate.length).toBeCloseTo(0.25, 1);
    expect(routes.filter((r) => r.answeredBy === 'champion').every((r) => r.variant === undefined)).toBe(true);
  });

  it('shadow: the champion answers every request and about `share` of them are flagged for the candidate', () => {
    const random = seeded(7);
    const routes = Array.from({ length: 10_000 }, () => routeRequest(plan({ mode: 'shadow', share: 0.5 }), 'k', random));
    expect(routes.every((r) => r.answeredBy === 'champion')).toBe(true);
    expect(routes.filter((r) => r.variant === 'shadow').length / routes.length).toBeCloseTo(0.5, 1);
    expect(routeRequest(plan({ mode: 'shadow', share: 1 }), undefined, () => 0.999)).toEqual({ answeredBy: 'champion', variant: 'shadow', candidateVersion: '2' });
  });

  it('canary with X-Lifecycle-Key: one key always gets the same version, and about `share` of the keys get the candidate', () => {
    const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const first = keys.map((k) => routeRequest(plan(), k).answeredBy);
    for (let round = 0; round < 3; round++) expect(keys.map((k) => routeRequest(plan(), k).answeredBy)).toEqual(first);
    expect(first.filter((a) => a === 'candidate').length / keys.length).toBeCloseTo(0.3, 1);
  });

  it('keeps a key on the candidate when the share grows within one rollout, and draws anew for another rollout', () => {
    const keys = Array.from({ length: 500 }, (_, i) => `k${i}`);
    const at10 = keys.filter((k) => routeRequest(plan({ share: 0.1 }), k).answeredBy === 'candidate');
    expect(at10.length).toBeGreaterThan(0);
    expect(at10.every((k) => routeRequest(plan({ share: 0.5 }), k).answeredBy === 'candidate')).toBe(true);
    expect(keys.map((k) => stickyUnit('d-1', k))).not.toEqual(keys.map((k) => stickyUnit('d-2', k)));
  });

  it('places keys in [0, 1)', () => {
    for (const k of ['', 'a', 'b'.repeat(1000)]) {
      const u = stickyUnit('d', k);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });
});
