/**
 * Payload logger process: drains the payload-log and feedback streams into
 * partitioned Parquet files (lib/payload-log/payload-logger.ts), applies the
 * retention, and serves /metrics. Configuration: lib/payload-log/logger-config.ts.
 */
import { setPriority } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import { createLogger } from '../lib/logger';
import { startMetricsServer } from '../lib/metrics/metrics-server';
import { createMetricsRegistry } from '../lib/metrics/registry';
import { loadPayloadLoggerConfig, type PayloadLoggerConfig } from '../lib/payload-log/logger-config';
import { createLoggerMetrics } from '../lib/payload-log/logger-metrics';
import { ParquetWriter } from '../lib/payload-log/parquet-writer';
import { PayloadLogger } from '../lib/payload-log/payload-logger';
import { LogStreamReader } from '../lib/payload-log/stream-reader';
import { exitOnSignal, runMain } from '../lib/process/main';
import { createRedisConnection } from '../lib/queue/redis-connection';

export interface RunningPayloadLogger {
  metricsPort: number;
  /** Stops reading, writes what is buffered, then closes (reverse start order). */
  close(): Promise<void>;
}

/** Wires Redis, the Parquet writer and the metrics server around the logger loop. */
export async function startPayloadLogger(config: PayloadLoggerConfig, logger: Logger, timing: { retentionIntervalMs?: number; claimIntervalMs?: number } = {}): Promise<RunningPayloadLogger> {
  const redis = createRedisConnection(config, { name: `payload-logger:${config.PAYLOAD_LOGGER_ID}`, logger });
  const reader = new LogStreamReader({ redis, prefix: config.REDIS_PREFIX, consumer: config.PAYLOAD_LOGGER_ID, claimIdleMs: config.PAYLOAD_LOGGER_CLAIM_IDLE_MS });
  const writer = await ParquetWriter.open(config.PAYLOAD_LOGGER_ID);
  const registry = createMetricsRegistry();
  const metrics = createLoggerMetrics(registry, () => reader.backlog());
  const root = resolve(config.PAYLOAD_LOG_DIR);
  const loop = new PayloadLogger({
    reader,
    writer,
    root,
    metrics,
    logger,
    batchSize: config.PAYLOAD_LOGGER_BATCH,
    flushMs: config.PAYLOAD_LOGGER_FLUSH_MS,
    pollMs: config.PAYLOAD_LOGGER_POLL_MS,
    retentionDays: config.PAYLOAD_LOG_RETENTION_DAYS,
    retentionIntervalMs: timing.retentionIntervalMs ?? 3_600_000,
    claimIntervalMs: timing.claimIntervalMs ?? 10_000,
  });
  // Ready while Redis answers: without it nothing reaches the log (serving goes on; its drops are counted there).
  const ready = () => ({ ok: redis.status === 'ready', redis: redis.status });
  const server = await startMetricsServer({ registry, port: config.METRICS_PORT, host: config.METRICS_HOST, health: () => ({ ok: true }), ready });
  loop.start();
  logger.info({ root, metricsPort: server.port, consumer: config.PAYLOAD_LOGGER_ID }, 'payload logger started');
  let closing: Promise<void> | null = null;
  const close = async () => {
    await loop.stop();
    await server.close();
    writer.close();
    await redis.quit().catch(() => redis.disconnect());
  };
  return { metricsPort: server.port, close: () => (closing ??= close()) };
}

async function main(): Promise<void> {
  const config = loadPayloadLoggerConfig();
  const logger = createLogger('payload-logger', config.LOG_LEVEL);
  // Background work: when the cores are contended, serving gets them first (the logger only falls behind, which its
  // bounded streams absorb). Only here, not in startPayloadLogger: tests run that inside the test process.
  try {
    setPriority(config.PAYLOAD_LOGGER_NICE);
  } catch (err) {
    logger.warn({ err, nice: config.PAYLOAD_LOGGER_NICE }, 'could not lower the process priority; running at the default');
  }
  const running = await startPayloadLogger(config, logger);
  exitOnSignal(logger, { drain: () => running.close(), timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
}

if (require.main === module) runMain('payload-logger', main);
