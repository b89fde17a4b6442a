export interface CollectBatchOptions<T> {
  maxBatchSize: number;
  /** Upper bound on how long a batch keeps collecting, counted from its oldest request's arrival. */
  maxWaitMs: number;
  /** How long the first read blocks when the queue is empty (bounds how often an idle loop wakes up). */
  blockMs: number;
  /**
   * How long in total the batch may wait for more once the queue is empty, because the caller
   * expects more to arrive (see RequestConsumer). 0, the default: close as soon as it is empty.
   */
  lingerMs?: number;
  /** When an item entered the queue (epoch ms). */
  arrivedAt?: (item: T) => number;
  now?: () => number;
  /** Sleeps about `ms` (a timer; tests pass a fake clock's). */
  pause?: (ms: number) => Promise<void>;
}

/**
 * `read(count, blockMs)` returns at most `count` queued items; with a number it
 * blocks up to that long for the first one, with `null` it returns at once with
 * whatever is already queued (possibly nothing).
 */
export type ReadItems<T> = (count: number, blockMs: number | null) => Promise<T[]>;

/** One linger step: the shortest timer Node keeps reliably, about one inter-arrival gap of a burst. */
const LINGER_STEP_MS = 1;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Dynamic batching that never waits on an idle queue. The first read blocks
 * until a request arrives (a blocked XREADGROUP is woken by the XADD itself, so
 * this costs no latency). Then the batch keeps taking what is *already* queued,
 * without blocking, for as long as requests keep arriving; it closes at the
 * max size, at the max wait, or as soon as a read finds the queue empty,
 * whichever comes first. A lone request therefore runs at once, and under load
 * the requests that queued up while the previous batch ran form the next one.
 *
 * With `lingerMs`, an empty read does not close the batch at once: it pauses a
 * step and looks again, closing when a look after a pause finds nothing or
 * the linger budget is spent. The caller grants a budget only when requests
 * are arriving faster than it, so an idle queue is never waited on.
 *
 * Why no short BLOCK for "a little more": Redis times out blocked clients only
 * on its server timer tick (`hz`, default 10 per second), so BLOCK 4 can wait
 * 100 ms; correctness here must not depend on the server's settings.
 */
export async function collectBatch<T>(read: ReadItems<T>, opts: CollectBatchOptions<T>): Promise<T[]> {
  const now = opts.now ?? Date.now;
  const pause = opts.pause ?? sleep;
  const batch = await read(opts.maxBatchSize, opts.blockMs);
  if (batch.length === 0 || batch.length >= opts.maxBatchSize || opts.maxWaitMs <= 0) return batch;

  const start = now();
  const oldest = opts.arrivedAt ? Math.min(start, ...batch.map(opts.arrivedAt)) : start;
  const until = oldest + opts.maxWaitMs;
  let lingered = 0;
  let justPaused = false;
  while (batch.length < opts.maxBatchSize && now() < until) {
    const more = await read(opts.maxBatchSize - batch.length, null);
    if (more.length > 0) {
      batch.push(...more);
      justPaused = false;
      continue;
    }
    // Empty: close, unless the caller expects more and a pause has not just come back empty-handed.
    const step = Math.min(LINGER_STEP_MS, until - now());
    if (justPaused || lingered + step > (opts.lingerMs ?? 0) || step <= 0) break;
    const before = now();
    await pause(step);
    lingered += now() - before;
    justPaused = true;
  }
  return batch;
}
