import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { envField, loadConfig, servingSchema } from '../lib/env';

export const apiSchema = servingSchema
  .extend({
    PORT: envField.port(8000),
    HOST: envField.string('127.0.0.1'),
    /** Largest accepted upload per image (413 above). */
    MAX_UPLOAD_BYTES: envField.positiveInt(5 * 1024 * 1024),
    /** Images accepted by one POST /predict/batch (413 above). */
    MAX_BATCH_FILES: envField.positiveInt(32),
    /** Inference backlog per model at which requests are shed (503). */
    MAX_QUEUE_LENGTH: envField.positiveInt(1000),
    /** Retry-After sent with 503s. */
    RETRY_AFTER_SECONDS: envField.positiveInt(1),
    /** How often the served models (and their input geometry) are re-read from Redis. */
    ACTIVE_MODEL_REFRESH_MS: envField.positiveInt(1000),
    /**
     * Where uploads are decoded: `api` sends the inference workers uint8 pixels already at the model's
     * input size (bounded, small queue entries); `worker` sends the upload as is (see README, Measured).
     */
    DECODE_IN: z.enum(['api', 'worker']).default('api'),
    /** Names this process's reply stream; unique per start by default. */
    API_INSTANCE_ID: envField.string(`${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`),
    /** Prediction requests per client IP per minute (429 above); 0 = no limit. Counted per API process. */
    RATE_LIMIT_PER_MINUTE: envField.nonNegativeInt(0),
    /** Graceful shutdown gives up waiting for in-flight requests after this long. */
    SHUTDOWN_TIMEOUT_MS: envField.positiveInt(15_000),
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
