import type { Redis } from 'ioredis';
import { INFERENCE_GROUP } from './keys';

/**
 * XGROUP CREATE ... MKSTREAM from id 0, so requests enqueued before any worker
 * existed are still delivered. Both sides call it: whichever starts first creates it.
 */
export async function ensureConsumerGroup(redis: Redis, stream: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, INFERENCE_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
  }
}
