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
  /**
   * Redis Cluster seed nodes, `host:port,host:port,...`: when set, every connection is a cluster client
   * (ioredis discovers the rest of the cluster from these) and REDIS_URL only lends its credentials and
   * scheme (`rediss:` for TLS). Unset: the single Redis at REDIS_URL.
   */
  REDIS_CLUSTER_NODES: z.preprocess(
    (v) => (v === '' ? undefined : v), // `REDIS_CLUSTER_NODES=` in an env file means unset
    z
      .string()
      .regex(/^[^\s,:]+:\d{1,5}(,[^\s,:]+:\d{1,5})*$/, 'expected host:port[,host:port...]')
      .optional(),
  ),
  /**
   * Prefix for every Redis key and channel, so stacks (and tests) can share one Redis. No braces: the keys
   * carry Redis Cluster hash tags after it (lib/queue/keys.ts), and a brace in the prefix would become the tag.
   */
  REDIS_PREFIX: envField.string('lc:').refine((p) => !/[{}]/.test(p), 'must not contain { or } (Redis Cluster hash tags follow it)'),
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
