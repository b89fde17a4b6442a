import sharp from 'sharp';
import type { Logger } from 'pino';

/**
 * libvips threads per image (SHARP_CONCURRENCY, default 1). Uploads are small
 * and many: parallelism comes from decoding several uploads at once on libuv's
 * thread pool (UV_THREADPOOL_SIZE), not from splitting one small image across
 * threads, which only adds synchronisation on a 2-core machine (see README,
 * Measured). The libvips operation cache is off: every upload is different.
 */
export function configureSharp(concurrency: number, logger?: Logger): void {
  sharp.concurrency(concurrency);
  sharp.cache(false);
  logger?.info({ sharpConcurrency: sharp.concurrency(), uvThreadpool: process.env.UV_THREADPOOL_SIZE ?? '4 (default)' }, 'sharp configured');
}
