import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../lib/env';

export const apiSchema = commonSchema.extend({
  PORT: envField.port(8000),
  HOST: envField.string('127.0.0.1'),
  /** Largest accepted upload (413 above). */
  MAX_UPLOAD_BYTES: envField.positiveInt(5 * 1024 * 1024),
  /** Largest accepted width*height, checked from the header before decoding (422 above). */
  MAX_IMAGE_PIXELS: envField.positiveInt(25_000_000),
  /** Deadline of a prediction from request receipt (504 after). */
  REQUEST_TIMEOUT_MS: envField.positiveInt(10_000),
  /** Inference backlog at which /predict sheds load (503). */
  MAX_QUEUE_LENGTH: envField.positiveInt(1000),
  /** Retry-After sent with 503s. */
  RETRY_AFTER_SECONDS: envField.positiveInt(1),
  /** How often the served model (and its preprocessing metadata) is re-read from Redis. */
  ACTIVE_MODEL_REFRESH_MS: envField.positiveInt(1000),
  /** Names this process's reply stream; unique per start by default. */
  API_INSTANCE_ID: envField.string(`${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`),
  /** POST /predict requests per client IP per minute (429 above); 0 = no limit. Counted per API process. */
  RATE_LIMIT_PER_MINUTE: envField.nonNegativeInt(0),
  /** Graceful shutdown gives up waiting for in-flight requests after this long. */
  SHUTDOWN_TIMEOUT_MS: envField.positiveInt(15_000),
});

export type ApiConfig = z.infer<typeof apiSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  return loadConfig(apiSchema, env);
}
