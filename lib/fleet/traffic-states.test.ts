import { FleetProtocolError } from './protocol';
import { parseTrafficPlan, parseTrafficState, samePlan } from './traffic-states';

const plan = { version: '3', mode: 'canary', share: 0.2, deploymentId: 'd-9', setAt: 1000 };

describe('traffic plan and state parsing', () => {
  it('parses a plan and fills in the default mirror share', () => {
    expect(parseTrafficPlan(JSON.stringify(plan))).toEqual({ ...plan, mirrorShare: 0.25 });
  });

  it('rejects what is not a plan: bad JSON, an unknown mode, a share outside [0, 1], a missing version', () => {
    for (const raw of ['{', JSON.stringify({ ...plan, mode: 'blue-green' }), JSON.stringify({ ...plan, share: 1.5 }), JSON.stringify({ ...plan, version: undefined })]) {
      expect(() => parseTrafficPlan(raw)).toThrow(FleetProtocolError);
    }
  });

  it('needs the candidate in a fleet traffic state', () => {
    expect(() => parseTrafficState(JSON.stringify(plan))).toThrow(FleetProtocolError);
  });

  it('tells plans apart by everything that changes the traffic', () => {
    const a = parseTrafficPlan(JSON.stringify(plan));
    expect(samePlan(a, { ...a })).toBe(true);
    for (const change of [{ share: 0.3 }, { mode: 'shadow' as const }, { version: '4' }, { deploymentId: 'd-10' }, { setAt: 2 }, { mirrorShare: 0.5 }, { maxDurationMs: 60_000 }]) {
      expect(samePlan(a, { ...a, ...change })).toBe(false);
    }
  });
});
