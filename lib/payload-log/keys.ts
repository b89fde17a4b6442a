/**
 * Redis layout of the payload log and ground-truth feedback. Every key takes
 * REDIS_PREFIX, and every per-model key carries the model name as a hash tag
 * (`{model}`), so on a Redis Cluster one model's records, feedback, rolling
 * window and streams share a slot and each Lua script below touches one slot.
 *
 *   <prefix>plog:{<model>}:pred:<request id>    prediction record for feedback joining (string, TTL = FEEDBACK_WINDOW_SECONDS)
 *   <prefix>plog:{<model>}:fb:<request id>      the feedback given for that request (string, same TTL)
 *   <prefix>plog:{<model>}:labels               hash version -> JSON labels of that version (what feedback may say)
 *   <prefix>plog:{<model>}:window:<version>     list of the last LIVE_ACCURACY_WINDOW outcomes (1 correct, 0 wrong)
 *   <prefix>plog:{<model>}:accuracy             hash `<version>:n` / `<version>:correct`: running sums of those lists
 *   <prefix>plog:{<model>}:payloads             stream of sampled payloads (bounded: PAYLOAD_LOG_MAX_LENGTH)
 *   <prefix>plog:{<model>}:feedback             stream of accepted feedback (bounded: FEEDBACK_STREAM_MAX_LENGTH)
 *   <prefix>plog:models                         set of the model names that have streams (the logger's discovery)
 */
export const payloadLogKeys = (prefix: string) => {
  const m = (model: string) => `${prefix}plog:{${model}}`;
  return {
    prediction: (model: string, requestId: string) => `${m(model)}:pred:${requestId}`,
    feedback: (model: string, requestId: string) => `${m(model)}:fb:${requestId}`,
    labels: (model: string) => `${m(model)}:labels`,
    window: (model: string, version: string) => `${m(model)}:window:${version}`,
    accuracy: (model: string) => `${m(model)}:accuracy`,
    payloads: (model: string) => `${m(model)}:payloads`,
    feedbackStream: (model: string) => `${m(model)}:feedback`,
    models: `${prefix}plog:models`,
  };
};
export type PayloadLogKeys = ReturnType<typeof payloadLogKeys>;

/** The consumer group of the logger processes on every payload-log stream. */
export const PAYLOAD_LOGGER_GROUP = 'payload-loggers';
