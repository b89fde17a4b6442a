import { DuckDBInstance } from '@duckdb/node-api';
import { createLogger } from '../../lib/logger';
import { loadPayloadLoggerConfig } from '../../lib/payload-log/logger-config';
import { startPayloadLogger, type RunningPayloadLogger } from '../../workers/payload-logger';

/** An in-process payload logger on `prefix`, writing under `dir`, flushing fast. */
export function startTestLogger(redisUrl: string, prefix: string, dir: string, env: Record<string, string> = {}, timing: { retentionIntervalMs?: number } = {}): Promise<RunningPayloadLogger> {
  const config = loadPayloadLoggerConfig({
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    PAYLOAD_LOG_DIR: dir,
    PAYLOAD_LOGGER_FLUSH_MS: '200',
    PAYLOAD_LOGGER_POLL_MS: '50',
    PAYLOAD_LOGGER_CLAIM_IDLE_MS: '1000',
    METRICS_PORT: '0',
    PAYLOAD_LOGGER_ID: 'test-logger',
    ...env,
  });
  return startPayloadLogger(config, createLogger('payload-logger-test', process.env.TEST_LOG_LEVEL ?? 'silent'), { claimIntervalMs: 200, ...timing });
}

/** Runs `sql` in a fresh in-memory DuckDB and returns the rows as plain JS values. */
export async function duckQuery(sql: string): Promise<Array<Record<string, unknown>>> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** A sample's value in Prometheus text (`name{labels} value`), 0 when absent. */
export function scrapeValue(text: string, name: string, labels: Record<string, string> = {}): number {
  const lines = text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  const match = lines.find((l) => Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`)));
  return match ? Number(match.slice(match.lastIndexOf(' ') + 1)) : 0;
}
