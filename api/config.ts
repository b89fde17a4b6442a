import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { envField, loadConfig, servingSchema } from '../lib/env';
import { payloadLogApiFields } from '../lib/payload-log/config';

export const apiSchema = servingSchema
  .extend({
    PORT: envField.port(8000),
    HOST: envField.string('127.0.0.1'),
    /** Largest accepted upload per image (413 above). */
    MAX_UPLOAD_BYTES: envField.positiveInt(5 * 1024 * 1024),
    /** A Redis reply later than this fails the command (503): a partitioned Redis must not hang requests. */
    REDIS_COMMAND_TIMEOUT_MS: envField.positiveInt(2000),
    /** Images accepted by one POST /predict/batch (413 above). */
    MAX_BATCH_FILES: envField.positiveInt(32),
    /** Inference backlog per model at which requests are shed (503). */
    MAX_QUEUE_LENGTH: envField.positiveInt(1000),
    /** Retry-After sent with 503s. */
    RETRY_AFTER_SECONDS: envField.positiveInt(1),
    /** How often the served models (and their input geometry) are re-read from Redis. */
    ACTIVE_MODEL_REFRESH_MS: envField.positiveInt(1000),
    /**
     * Where uploads are decoded. `auto`: uploads up to DECODE_IN_WORKER_MAX_BYTES travel as they are and the
     * inference workers decode them (measured: more throughput and a shorter tail on a 2-core machine, as the
     * decoding spreads over the workers), larger ones are decoded here to the model's input size so a queue
     * entry stays small. `api`: always decode here. `worker`: never (entries as large as MAX_UPLOAD_BYTES).
     */
    DECODE_IN: z.enum(['auto', 'api', 'worker']).default('auto'),
    /** With DECODE_IN=auto, the largest upload sent to the workers undecoded (bounds a queue entry). */
    DECODE_IN_WORKER_MAX_BYTES: envField.positiveInt(64 * 1024),
    /** Names this process's reply stream; unique per start by default. */
    API_INSTANCE_ID: envField.string(`${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`),
    /** Prediction requests per client IP per minute (429 above); 0 = no limit. Counted per API process. */
    RATE_LIMIT_PER_MINUTE: envField.nonNegativeInt(0),
    /** Graceful shutdown gives up waiting for in-flight requests after this long. */
    SHUTDOWN_TIMEOUT_MS: envField.positiveInt(15_000),
    /** Payload log and ground-truth feedback (lib/payload-log/config.ts). */
    ...payloadLogApiFields,
  })
  .superRefine((c, ctx) => {
    if (c.SHUTDOWN_TIMEOUT_MS < c.REQUEST_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['SHUTDOWN_TIMEOUT_MS'],
        message: `SHUTDOWN_TIMEOUT_MS (${c.SHUTDOWN_TIMEOUT_MS} ms) must be at least REQUEST_TIMEOUT_MS (${c.REQUEST_TIMEOUT_MS} ms), or a graceful stop cuts off requests that still had time to be answered`,
      });
    }
    if (c.MAX_BATCH_FILES > c.MAX_QUEUE_LENGTH) {
      ctx.addIssue({
        code: 'custom',
        path: ['MAX_BATCH_FILES'],
        message: `MAX_BATCH_FILES (${c.MAX_BATCH_FILES}) must not exceed MAX_QUEUE_LENGTH (${c.MAX_QUEUE_LENGTH}): such a batch could never be queued`,
      });
    }
  });

export type ApiConfig = z.infer<typeof apiSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig(apiSchema, env);
}
