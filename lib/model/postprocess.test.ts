import { softmax, topK } from './postprocess';

describe('softmax', () => {
  it('sums to one and keeps the order of the logits', () => {
    const p = softmax([1, 2, 3]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(p[2]).toBeGreaterThan(p[1]!);
    expect(p[1]).toBeGreaterThan(p[0]!);
  });

  it('does not overflow on large logits', () => {
    expect(Array.from(softmax([1000, 1000]))).toEqual([0.5, 0.5]);
  });
});

describe('topK', () => {
  it('returns the k most probable labels, descending, ties in class order', () => {
    expect(topK([0.1, 0.4, 0.1, 0.4], ['a', 'b', 'c', 'd'], 3)).toEqual([
      { label: 'b', probability: 0.4 },
      { label: 'd', probability: 0.4 },
      { label: 'a', probability: 0.1 },
    ]);
  });
});
