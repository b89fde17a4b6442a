import { chiSquareHomogeneity, jensenShannonDistance, twoProportionZTest, wilsonInterval, zFor } from './statistics';

describe('zFor', () => {
  it('gives the one-sided normal quantile', () => {
    expect(zFor(0.95)).toBeCloseTo(1.645, 2);
    expect(zFor(0.99)).toBeCloseTo(2.326, 2);
  });
});

describe('wilsonInterval', () => {
  it('matches the textbook value (90 of 100, one-sided 97.5% = two-sided 95%)', () => {
    const { low, high } = wilsonInterval(90, 100, 0.975);
    expect(low).toBeCloseTo(0.8256, 3);
    expect(high).toBeCloseTo(0.9448, 3);
  });

  it('stays inside [0, 1] at the extremes, where the Wald interval collapses', () => {
    const all = wilsonInterval(50, 50, 0.95);
    expect(all.high).toBeCloseTo(1, 12);
    expect(all.low).toBeGreaterThan(0.9);
    expect(all.low).toBeLessThan(1);
    const none = wilsonInterval(0, 50, 0.95);
    expect(none.low).toBeCloseTo(0, 12);
    expect(none.high).toBeGreaterThan(0);
  });

  it('narrows as samples grow', () => {
    const small = wilsonInterval(9, 10, 0.95);
    const big = wilsonInterval(900, 1000, 0.95);
    expect(big.high - big.low).toBeLessThan((small.high - small.low) / 5);
  });

  it('is uninformative without samples', () => {
    expect(wilsonInterval(0, 0, 0.95)).toEqual({ low: 0, high: 1 });
  });
});

describe('twoProportionZTest (H1: p1 > p2 + margin)', () => {
  it('finds a clearly worse candidate significant', () => {
    const t = twoProportionZTest(50, 500, 5, 500);
    expect(t.z).toBeGreaterThan(5);
    expect(t.pValue).toBeLessThan(0.001);
  });

  it('does not call a small difference on few samples significant', () => {
    expect(twoProportionZTest(2, 100, 1, 100).pValue).toBeGreaterThan(0.05);
  });

  it('lets the margin absorb a small, real difference', () => {
    expect(twoProportionZTest(30, 10_000, 10, 10_000).pValue).toBeLessThan(0.05);
    expect(twoProportionZTest(30, 10_000, 10, 10_000, 0.01).pValue).toBeGreaterThan(0.5);
  });

  it('handles zero variance: no errors anywhere is no evidence; every request failing is', () => {
    expect(twoProportionZTest(0, 500, 0, 500)).toEqual({ z: 0, pValue: 1 });
    expect(twoProportionZTest(500, 500, 0, 500).pValue).toBe(0);
  });

  it('has no evidence without samples', () => {
    expect(twoProportionZTest(0, 0, 1, 10).pValue).toBe(1);
  });
});

describe('jensenShannonDistance', () => {
  it('is 0 for the same distribution, whatever the counts', () => {
    expect(jensenShannonDistance({ a: 10, b: 30 }, { a: 100, b: 300 })).toBeCloseTo(0, 10);
  });

  it('is 1 for disjoint distributions (base 2)', () => {
    expect(jensenShannonDistance({ a: 5 }, { b: 7 })).toBeCloseTo(1, 10);
  });

  it('is symmetric and finite when a class is missing on one side', () => {
    const p = { a: 8, b: 2 };
    const q = { a: 5, b: 4, c: 1 };
    const d = jensenShannonDistance(p, q);
    expect(d).toBeCloseTo(jensenShannonDistance(q, p), 12);
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1);
  });

  it('matches a hand computation', () => {
    // p = (1, 0), q = (0.5, 0.5): m = (0.75, 0.25); JSD = 0.5*log2(1/0.75) + 0.5*(0.5*log2(0.5/0.75) + 0.5*log2(0.5/0.25))
    const jsd = 0.5 * Math.log2(1 / 0.75) + 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(2));
    expect(jensenShannonDistance({ x: 1 }, { x: 1, y: 1 })).toBeCloseTo(Math.sqrt(jsd), 12);
  });

  it('is undefined (NaN) when a side has no counts', () => {
    expect(jensenShannonDistance({}, { a: 1 })).toBeNaN();
  });
});

describe('chiSquareHomogeneity', () => {
  it('matches the closed form at 2 degrees of freedom (p = exp(-chi2/2))', () => {
    // Every expected count is 20: chi2 = 2 * (100 + 0 + 100) / 20 = 20.
    const t = chiSquareHomogeneity({ A: 10, B: 20, C: 30 }, { A: 30, B: 20, C: 10 });
    expect(t.chi2).toBeCloseTo(20, 10);
    expect(t.df).toBe(2);
    expect(t.pValue).toBeCloseTo(Math.exp(-10), 8);
  });

  it('matches the 5% critical value at 1 degree of freedom', () => {
    // Expected 2500 per cell, each off by 49: chi2 = 4 * 49^2 / 2500 = 3.8416.
    const t = chiSquareHomogeneity({ yes: 2549, no: 2451 }, { yes: 2451, no: 2549 });
    expect(t.chi2).toBeCloseTo(3.8416, 3);
    expect(t.pValue).toBeCloseTo(0.05, 3);
  });

  it('finds no difference between proportional counts, and cannot test one class or an empty side', () => {
    expect(chiSquareHomogeneity({ A: 10, B: 30 }, { A: 100, B: 300 }).pValue).toBeCloseTo(1, 10);
    expect(chiSquareHomogeneity({ A: 10 }, { A: 40 })).toEqual({ chi2: 0, df: 0, pValue: 1 });
    expect(chiSquareHomogeneity({}, { A: 4, B: 5 }).pValue).toBe(1);
  });

  it('ignores classes neither side predicted', () => {
    const withEmpty = chiSquareHomogeneity({ A: 10, B: 20, C: 30, D: 0 }, { A: 30, B: 20, C: 10, D: 0 });
    expect(withEmpty.df).toBe(2);
  });
});
