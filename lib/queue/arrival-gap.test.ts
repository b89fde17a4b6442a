import { ArrivalGap } from './arrival-gap';

describe('ArrivalGap', () => {
  it('is infinite until a window with requests has closed', () => {
    let t = 0;
    const gap = new ArrivalGap(1000, () => t);
    t = 500;
    gap.record(50);
    expect(gap.meanMs).toBe(Number.POSITIVE_INFINITY);
    t = 1000;
    gap.record(50);
    expect(gap.meanMs).toBe(10);
  });

  it('goes back to infinite after an idle window', () => {
    let t = 0;
    const gap = new ArrivalGap(1000, () => t);
    t = 1000;
    gap.record(200);
    expect(gap.meanMs).toBe(5);
    t = 2100;
    gap.record(0);
    expect(gap.meanMs).toBe(Number.POSITIVE_INFINITY);
  });
});
