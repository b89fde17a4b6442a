import { hostname } from 'node:os';
import { z } from 'zod';
import { commonSchema, envField, loadConfig } from '../env';

export const payloadLoggerSchema = commonSchema
  .extend({
    /** Root of the Parquet files (the stack sets it under its state dir; production mounts a volume or syncs it to S3). */
    PAYLOAD_LOG_DIR: envField.string('.lifecycle/payload-log'),
    /** Date partitions older than this many days are deleted (payloads are user data). */
    PAYLOAD_LOG_RETENTION_DAYS: envField.positiveInt(30),
    /** Entries per Parquet file at most (one file per model/version/date partition of a batch). */
    PAYLOAD_LOGGER_BATCH: envField.positiveInt(2000),
    /** A partial batch is written once its oldest entry has waited this long (files stay few and large). */
    PAYLOAD_LOGGER_FLUSH_MS: envField.positiveInt(5000),
    /** Pause after an empty read of all streams. */
    PAYLOAD_LOGGER_POLL_MS: envField.positiveInt(250),
    /** Entries another logger read but did not acknowledge for this long are taken over (it died). */
    PAYLOAD_LOGGER_CLAIM_IDLE_MS: envField.positiveInt(60_000),
    /** Consumer name in the streams' group; unique per logger process. */
    PAYLOAD_LOGGER_ID: envField.string(hostname()),
    /** Nice value of the logger process (0-19): its Parquet encoding and compression yield the CPU to serving when the cores are busy. */
    PAYLOAD_LOGGER_NICE: z.coerce.number().int().min(0).max(19).default(10),
    /** Port of /metrics, /healthz and /readyz (0 = any free port). */
    METRICS_PORT: envField.port(9181),
    METRICS_HOST: envField.string('127.0.0.1'),
    SHUTDOWN_TIMEOUT_MS: envField.positiveInt(30_000),
  })
  .superRefine((c, ctx) => {
    // A logger's own buffered entries must never look abandoned to another logger.
    if (c.PAYLOAD_LOGGER_CLAIM_IDLE_MS < 4 * c.PAYLOAD_LOGGER_FLUSH_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['PAYLOAD_LOGGER_CLAIM_IDLE_MS'],
        message: `PAYLOAD_LOGGER_CLAIM_IDLE_MS (${c.PAYLOAD_LOGGER_CLAIM_IDLE_MS} ms) must be at least 4 x PAYLOAD_LOGGER_FLUSH_MS (${c.PAYLOAD_LOGGER_FLUSH_MS} ms), or loggers take each other's buffered entries`,
      });
    }
  });

export type PayloadLoggerConfig = z.infer<typeof payloadLoggerSchema>;

export const loadPayloadLoggerConfig = (env: NodeJS.ProcessEnv = process.env): PayloadLoggerConfig => loadConfig(payloadLoggerSchema, env);
