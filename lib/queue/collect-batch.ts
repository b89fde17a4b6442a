export interface CollectBatchOptions<T> {
  maxBatchSize: number;
  /** How long a batch may wait to fill, counted from its oldest request's arrival. */
  maxWaitMs: number;
  /** How long the first read blocks when the queue is empty. */
  blockMs: number;
  /** When an item entered the queue (epoch ms); lets a backlog skip the wait. */
  arrivedAt?: (item: T) => number;
  now?: () => number;
}

/**
 * Dynamic batching: block until at least one item is available, then keep
 * reading (blocking for the remaining time only) until the batch is full or
 * the oldest item has waited `maxWaitMs`. Under load the first read already
 * returns a full batch; when idle a lone request waits at most `maxWaitMs`.
 * `read(count, blockMs)` returns at most `count` items, or none after `blockMs`.
 */
export async function collectBatch<T>(read: (count: number, blockMs: number) => Promise<T[]>, opts: CollectBatchOptions<T>): Promise<T[]> {
  const now = opts.now ?? Date.now;
  const batch = await read(opts.maxBatchSize, opts.blockMs);
  if (batch.length === 0 || batch.length >= opts.maxBatchSize || opts.maxWaitMs <= 0) return batch;

  const start = now();
  const oldest = opts.arrivedAt ? Math.min(start, ...batch.map(opts.arrivedAt)) : start;
  const until = oldest + opts.maxWaitMs;
  while (batch.length < opts.maxBatchSize) {
    const left = until - now();
    if (left < 1) break;
    batch.push(...(await read(opts.maxBatchSize - batch.length, Math.ceil(left))));
  }
  return batch;
}
