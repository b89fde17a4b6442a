import type { RedisClient } from './redis-connection';
import { INFERENCE_GROUP } from './keys';

/**
 * XGROUP CREATE ... MKSTREAM from id 0, so requests enqueued before any worker
 * existed (or after Redis lost the group) are still delivered. Idempotent.
 */
export async function ensureConsumerGroup(redis: RedisClient, stream: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, INFERENCE_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!(err instanceof Error && err.message.includes('BUSYGROUP'))) throw err;
  }
}

/** Whether an error says the stream or its group is gone (e.g. Redis restarted empty). */
export const isNoGroupError = (err: unknown): boolean => err instanceof Error && err.message.includes('NOGROUP');
