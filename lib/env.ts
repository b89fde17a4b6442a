import { z } from 'zod';

/** Thrown when the environment does not satisfy a process's config schema. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

/**
 * Parses `env` with a zod object schema and fails with one message that names
 * every offending variable, so a misconfigured process stops at start-up with
 * something a person can act on.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const name = issue.path.join('.') || '(env)';
    const value = env[name];
    return `  ${name}: ${issue.message}${value === undefined ? ' (not set)' : ` (got ${JSON.stringify(value)})`}`;
  });
  throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
}

/** Reusable field types: environment variables are strings, these coerce and check them. */
export const envField = {
  url: (fallback: string) => z.url().default(fallback),
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  positiveInt: (fallback: number) => z.coerce.number().int().positive().default(fallback),
  nonNegativeInt: (fallback: number) => z.coerce.number().int().nonnegative().default(fallback),
  string: (fallback: string) => z.string().min(1).default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Settings every Lifecycle process shares. */
export const commonSchema = z.object({
  LOG_LEVEL: envField.logLevel(),
  REDIS_URL: envField.string('redis://127.0.0.1:6379'),
  /** Prefix for every Redis key and channel, so stacks (and tests) can share one Redis. */
  REDIS_PREFIX: envField.string('lc:'),
  MLFLOW_TRACKING_URI: envField.url('http://127.0.0.1:5000'),
  MODEL_NAME: envField.string('fashion-mnist-classifier'),
});

/** Settings of the serving path that the API and the inference workers must agree on. */
export const servingSchema = commonSchema.extend({
  /** Deadline of a prediction from request receipt (504 after); workers check their reclaim bound against it. */
  REQUEST_TIMEOUT_MS: envField.positiveInt(10_000),
  /** Largest accepted width*height of an upload, enforced from the header before decoding (422 above). */
  MAX_IMAGE_PIXELS: envField.positiveInt(25_000_000),
  /** libvips threads per decoded image (see lib/model/sharp-config.ts). */
  SHARP_CONCURRENCY: envField.positiveInt(1),
});
