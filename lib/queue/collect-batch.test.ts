import { collectBatch } from './collect-batch';

/**
 * A fake queue on a fake clock: items arrive at given times; a blocking read
 * waits (advancing the clock) until one is there or its block ends; a
 * non-blocking read costs `readCostMs` and returns only what has arrived.
 */
function fakeQueue(arrivals: number[], readCostMs = 0.1) {
  let clock = 0;
  const pending = [...arrivals].sort((a, b) => a - b);
  const reads: Array<{ count: number; blockMs: number | null }> = [];
  const take = (count: number) => {
    const ready: number[] = [];
    while (ready.length < count && pending[0] !== undefined && pending[0] <= clock) ready.push(pending.shift()!);
    return ready;
  };
  const read = (count: number, blockMs: number | null): Promise<number[]> => {
    reads.push({ count, blockMs });
    clock += readCostMs;
    if (blockMs === null) return Promise.resolve(take(count));
    const first = pending[0];
    if (first === undefined || first > clock + blockMs) {
      clock += blockMs;
      return Promise.resolve([]);
    }
    clock = Math.max(clock, first);
    return Promise.resolve(take(count));
  };
  return { read, reads, now: () => clock };
}

describe('collectBatch', () => {
  it('returns a full batch at once when the backlog is large enough', async () => {
    const q = fakeQueue([0, 0, 0, 0, 0]);
    const batch = await collectBatch(q.read, { maxBatchSize: 4, maxWaitMs: 5, blockMs: 1000, now: q.now });
    expect(batch).toHaveLength(4);
    expect(q.reads).toHaveLength(1);
  });

  it('closes a lone request at once, whatever the max wait', async () => {
    const q = fakeQueue([0]);
    const batch = await collectBatch(q.read, { maxBatchSize: 32, maxWaitMs: 2000, blockMs: 1000, now: q.now });
    expect(batch).toEqual([0]);
    expect(q.reads).toEqual([{ count: 32, blockMs: 1000 }, { count: 31, blockMs: null }]);
    expect(q.now()).toBeLessThan(1);
  });

  it('never blocks after the first item: later reads only take what is already queued', async () => {
    const q = fakeQueue([0, 0.15, 0.25, 50]);
    const batch = await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 2000, blockMs: 1000, now: q.now });
    expect(batch).toEqual([0, 0.15, 0.25]);
    expect(q.reads.slice(1).every((r) => r.blockMs === null)).toBe(true);
  });

  it('keeps taking while requests keep arriving, and stops at the max wait', async () => {
    const arrivals = Array.from({ length: 200 }, (_, i) => i * 0.05);
    const q = fakeQueue(arrivals, 0.1);
    const batch = await collectBatch(q.read, { maxBatchSize: 1000, maxWaitMs: 3, blockMs: 1000, now: q.now });
    expect(batch.length).toBeGreaterThan(10);
    expect(q.now()).toBeGreaterThanOrEqual(3);
    expect(q.now()).toBeLessThan(3.2);
  });

  it('asks only for the room left', async () => {
    const q = fakeQueue([0, 0, 0.15, 0.25]);
    await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 10, blockMs: 1000, now: q.now });
    expect(q.reads.map((r) => r.count)).toEqual([8, 6, 5, 4]);
  });

  it('does not collect more when the oldest item already waited longer than the max wait', async () => {
    const q = fakeQueue([100, 100]);
    const batch = await collectBatch(q.read, { maxBatchSize: 1, maxWaitMs: 5, blockMs: 1000, now: q.now, arrivedAt: () => 0 });
    expect(batch).toEqual([100]);
    const late = fakeQueue([100]);
    await collectBatch(late.read, { maxBatchSize: 8, maxWaitMs: 5, blockMs: 1000, now: late.now, arrivedAt: () => 0 });
    expect(late.reads).toHaveLength(1);
  });

  it('returns an empty batch after blocking when the queue stays empty', async () => {
    const q = fakeQueue([]);
    expect(await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 5, blockMs: 200, now: q.now })).toEqual([]);
    expect(q.now()).toBeCloseTo(200.1);
  });

  it('never collects more with a max wait of 0', async () => {
    const q = fakeQueue([0, 0.15]);
    expect(await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 0, blockMs: 200, now: q.now })).toEqual([0]);
    expect(q.reads).toHaveLength(1);
  });
});
