import { decidePromotion } from './promotion-gate';

describe('decidePromotion', () => {
  it('promotes the first model when there is no champion', () => {
    const d = decidePromotion('test_accuracy', 0.8, null, 0);
    expect(d).toMatchObject({ promote: true, champion: null, championVersion: null, reason: 'no champion yet' });
  });

  it('promotes a candidate that beats the champion', () => {
    const d = decidePromotion('test_accuracy', 0.91, { version: '3', metric: 0.9 }, 0);
    expect(d.promote).toBe(true);
    expect(d.championVersion).toBe('3');
    expect(d.reason).toMatch(/beats champion v3/);
  });

  it('rejects a candidate that only ties the champion', () => {
    expect(decidePromotion('test_accuracy', 0.9, { version: '3', metric: 0.9 }, 0).promote).toBe(false);
  });

  it('rejects an improvement smaller than the required margin', () => {
    const d = decidePromotion('test_accuracy', 0.905, { version: '3', metric: 0.9 }, 0.01);
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/does not beat/);
  });

  it('rejects a candidate without the metric', () => {
    const d = decidePromotion('test_accuracy', undefined, { version: '1', metric: 0.5 }, 0);
    expect(d.promote).toBe(false);
    expect(d.reason).toMatch(/no test_accuracy/);
  });

  it('replaces a champion whose metric was never recorded', () => {
    expect(decidePromotion('test_accuracy', 0.5, { version: '1', metric: null }, 0).promote).toBe(true);
  });
});
