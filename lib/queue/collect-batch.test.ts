import { collectBatch } from './collect-batch';

/** A fake queue: items arrive at given times on a fake clock; a read waits (advancing the clock) until one is there or its block ends. */
function fakeQueue(arrivals: number[]) {
  let clock = 0;
  const pending = [...arrivals].sort((a, b) => a - b);
  const reads: Array<{ count: number; blockMs: number }> = [];
  const read = (count: number, blockMs: number): Promise<number[]> => {
    reads.push({ count, blockMs });
    const first = pending[0];
    if (first === undefined || first > clock + blockMs) {
      clock += blockMs;
      return Promise.resolve([]);
    }
    clock = Math.max(clock, first);
    const ready: number[] = [];
    while (ready.length < count && pending[0] !== undefined && pending[0] <= clock) ready.push(pending.shift()!);
    return Promise.resolve(ready);
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

  it('keeps reading until the batch is full within the wait', async () => {
    const q = fakeQueue([0, 1, 2, 3]);
    const batch = await collectBatch(q.read, { maxBatchSize: 4, maxWaitMs: 5, blockMs: 1000, now: q.now });
    expect(batch).toEqual([0, 1, 2, 3]);
    expect(q.now()).toBe(3);
  });

  it('stops at the max wait with a partial batch; later items go to the next batch', async () => {
    const q = fakeQueue([0, 2, 50]);
    const batch = await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 5, blockMs: 1000, now: q.now });
    expect(batch).toEqual([0, 2]);
    expect(q.now()).toBe(5);
  });

  it('asks only for the room left and blocks only for the time left', async () => {
    const q = fakeQueue([0, 3]);
    await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 10, blockMs: 1000, now: q.now });
    expect(q.reads[1]).toEqual({ count: 7, blockMs: 10 });
    expect(q.reads[2]).toEqual({ count: 6, blockMs: 7 });
  });

  it('does not wait when the oldest item already waited longer than the max wait', async () => {
    const q = fakeQueue([100]);
    const batch = await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 5, blockMs: 1000, now: q.now, arrivedAt: () => 0 });
    expect(batch).toEqual([100]);
    expect(q.reads).toHaveLength(1);
  });

  it('returns an empty batch after blocking when the queue stays empty', async () => {
    const q = fakeQueue([]);
    expect(await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 5, blockMs: 200, now: q.now })).toEqual([]);
    expect(q.now()).toBe(200);
  });

  it('never waits with a max wait of 0', async () => {
    const q = fakeQueue([0, 1]);
    expect(await collectBatch(q.read, { maxBatchSize: 8, maxWaitMs: 0, blockMs: 200, now: q.now })).toEqual([0]);
  });
});
