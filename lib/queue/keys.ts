/**
 * Redis layout of the inference queue. Every key takes REDIS_PREFIX so stacks
 * and tests can share one Redis.
 *
 *   <prefix>inference:<model>:requests        one stream per served model, consumer group INFERENCE_GROUP;
 *                                             entries are acked and deleted once answered, so XLEN = backlog
 *   <prefix>inference:replies:<instanceId>    one stream per API process, read by that process only;
 *                                             capped (MAXLEN ~) and expiring, so a dead API leaves nothing behind
 */
export const queueKeys = (prefix: string) => ({
  requests: (model: string) => `${prefix}inference:${model}:requests`,
  replies: (instanceId: string) => `${prefix}inference:replies:${instanceId}`,
});

export const INFERENCE_GROUP = 'inference-workers';

/** Approximate cap of a reply stream: replies are read within milliseconds, this only bounds a stalled reader. */
export const REPLY_STREAM_MAXLEN = 10_000;

/** A reply stream disappears this long after its last reply (its API process is gone or idle). */
export const REPLY_STREAM_TTL_SECONDS = 300;
