/**
 * Redis layout of the inference queue. Every key takes REDIS_PREFIX so stacks
 * and tests can share one Redis.
 *
 *   <prefix>inference:{<model>}:requests        one stream per served model, consumer group INFERENCE_GROUP;
 *                                               entries are acked and deleted once answered, so XLEN = backlog
 *   <prefix>inference:replies:{<instanceId>}    one stream per API process, read by that process only;
 *                                               capped (MAXLEN ~) and expiring, so a dead API leaves nothing behind
 *
 * The braces are Redis Cluster hash tags: only the part inside decides a key's slot. Each model's stream
 * (with its consumer group), its rollout lease (lib/fleet/protocol.ts) and its payload-log keys
 * (lib/payload-log/keys.ts) share the slot of `{<model>}`, so different models spread over the shards and each
 * script touches one slot; each API instance's reply stream has a slot of its own. A worker's reply touches
 * the caller's reply stream and the model's stream, two slots: see RequestConsumer.complete.
 */
export const queueKeys = (prefix: string) => ({
  requests: (model: string) => `${prefix}inference:{${model}}:requests`,
  replies: (instanceId: string) => `${prefix}inference:replies:{${instanceId}}`,
});

export const INFERENCE_GROUP = 'inference-workers';

/** Approximate cap of a reply stream: replies are read within milliseconds, this only bounds a stalled reader. */
export const REPLY_STREAM_MAXLEN = 10_000;

/** A reply stream disappears this long after its last reply (its API process is gone or idle). */
export const REPLY_STREAM_TTL_SECONDS = 300;
