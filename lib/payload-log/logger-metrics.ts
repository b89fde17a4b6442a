import { Counter, Gauge, type Registry } from 'prom-client';
import type { LogStream } from './stream-reader';

/** Metrics of the payload logger process (its own /metrics). */
export function createLoggerMetrics(registry: Registry, readBacklog: () => Promise<Array<{ stream: LogStream; length: number }>>) {
  const registers = [registry];
  return {
    written: new Counter({
      name: 'lifecycle_payload_logger_written_total',
      help: 'Entries written to Parquet, per table (payloads, feedback) and model',
      labelNames: ['table', 'model'] as const,
      registers,
    }),
    files: new Counter({
      name: 'lifecycle_payload_logger_files_total',
      help: 'Parquet files written, per table',
      labelNames: ['table'] as const,
      registers,
    }),
    errors: new Counter({
      name: 'lifecycle_payload_logger_errors_total',
      help: 'Logger failures by stage: read (Redis), write (Parquet; the entries are retried), ack, invalid (malformed entries, dropped), retention',
      labelNames: ['stage'] as const,
      registers,
    }),
    retentionDeleted: new Counter({
      name: 'lifecycle_payload_logger_partitions_deleted_total',
      help: 'Date partitions deleted by retention (PAYLOAD_LOG_RETENTION_DAYS)',
      registers,
    }),
    backlog: new Gauge({
      name: 'lifecycle_payload_logger_backlog',
      help: 'Entries waiting on a payload-log stream (read at scrape time), per table and model',
      labelNames: ['table', 'model'] as const,
      registers,
      async collect() {
        try {
          const backlog = await readBacklog();
          this.reset();
          for (const { stream, length } of backlog) this.set({ table: stream.table, model: stream.model }, length);
        } catch {
          // Redis unreachable at scrape time: keep the last values.
        }
      },
    }),
  };
}

export type LoggerMetrics = ReturnType<typeof createLoggerMetrics>;
