import type { ChampionMeasurement } from '../lib/lifecycle/types';
import { decidePromotion, type GateInput } from './promotion-gate';

const split = 'a'.repeat(64);
const champ = (metric: number | null, source: ChampionMeasurement['source'] = 'recorded'): ChampionMeasurement => ({ version: '3', metric, splitDigest: split, source });
const gate = (over: Partial<GateInput>): GateInput => ({ metric: 'test_accuracy', candidate: 0.9, splitDigest: split, champion: null, minImprovement: 0, ...over });

describe('decidePromotion', () => {
  it('promotes the first model when there is no champion', () => {
    expect(decidePromotion(gate({ candidate: 0.8 }))).toMatchObject({ promote: true, champion: null, championVersion: null, championSource: 'none', reason: 'no champion yet' });
  });

  it('promotes a candidate that beats the champion and names the split both numbers come from', () => {
    const d = decidePromotion(gate({ candidate: 0.91, champion: champ(0.9) }));
    expect(d).toMatchObject({ promote: true, championVersion: '3', champion: 0.9, splitDigest: split, championSource: 'recorded' });
    expect(d.reason).toMatch(/beats champion v3 0\.9000 by 0\.0100 on split aaaaaaaaaaaa/);
  });

  it('says when the champion was re-evaluated on the candidate split', () => {
    expect(decidePromotion(gate({ candidate: 0.91, champion: champ(0.8, 'evaluated') })).reason).toMatch(/\(re-evaluated\)/);
  });

  it('rejects a candidate that only ties the champion', () => {
    expect(decidePromotion(gate({ candidate: 0.9, champion: champ(0.9) })).promote).toBe(false);
  });

  it('rejects an improvement smaller than the required margin', () => {
    const d = decidePromotion(gate({ candidate: 0.905, champion: champ(0.9), minImprovement: 0.01 }));
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/does not beat/);
  });

  it('rejects a candidate without the metric', () => {
    const d = decidePromotion(gate({ candidate: undefined, champion: champ(0.5) }));
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/no test_accuracy/);
  });

  it('refuses to compare with a champion that has no number on the same split', () => {
    const d = decidePromotion(gate({ candidate: 0.99, champion: champ(null) }));
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/not comparable/);
  });
});
