export interface CollectBatchOptions<T> {
  maxBatchSize: number;
  /** Upper bound on how long a batch keeps collecting, counted from its oldest request's arrival. */
  maxWaitMs: number;
  /** How long the first read blocks when the queue is empty (bounds how often an idle loop wakes up). */
  blockMs: number;
  /** When an item entered the queue (epoch ms). */
  arrivedAt?: (item: T) => number;
  now?: () => number;
}

/**
 * `read(count, blockMs)` returns at most `count` queued items; with a number it
 * blocks up to that long for the first one, with `null` it returns at once with
 * whatever is already queued (possibly nothing).
 */
export type ReadItems<T> = (count: number, blockMs: number | null) => Promise<T[]>;

/**
 * Dynamic batching that never waits on an idle queue. The first read blocks
 * until a request arrives (a blocked XREADGROUP is woken by the XADD itself, so
 * this costs no latency). Then the batch keeps taking what is *already* queued,
 * without blocking, for as long as requests keep arriving; it closes at the
 * max size, at the max wait, or as soon as a read finds the queue empty,
 * whichever comes first. A lone request therefore runs at once, and under load
 * the requests that queued up while the previous batch ran form the next one.
 *
 * Why no short BLOCK for "a little more": Redis times out blocked clients only
 * on its server timer tick (`hz`, default 10 per second), so BLOCK 4 can wait
 * 100 ms; correctness here must not depend on the server's settings.
 */
export async function collectBatch<T>(read: ReadItems<T>, opts: CollectBatchOptions<T>): Promise<T[]> {
  const now = opts.now ?? Date.now;
  const batch = await read(opts.maxBatchSize, opts.blockMs);
  if (batch.length === 0 || batch.length >= opts.maxBatchSize || opts.maxWaitMs <= 0) return batch;

  const start = now();
  const oldest = opts.arrivedAt ? Math.min(start, ...batch.map(opts.arrivedAt)) : start;
  const until = oldest + opts.maxWaitMs;
  while (batch.length < opts.maxBatchSize && now() < until) {
    const more = await read(opts.maxBatchSize - batch.length, null);
    if (more.length === 0) break;
    batch.push(...more);
  }
  return batch;
}
