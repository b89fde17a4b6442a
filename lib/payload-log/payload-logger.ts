import type { Logger } from 'pino';
import type { LoggerMetrics } from './logger-metrics';
import type { ParquetWriter } from './parquet-writer';
import { feedbackEntrySchema, fromStreamEntry, payloadEntrySchema, type FeedbackEntry, type PayloadEntry } from './records';
import { applyRetention } from './retention';
import type { LogStreamReader, ReadEntry } from './stream-reader';

export interface PayloadLoggerOptions {
  reader: LogStreamReader;
  writer: ParquetWriter;
  /** PAYLOAD_LOG_DIR. */
  root: string;
  metrics: LoggerMetrics;
  logger: Logger;
  /** Entries per Parquet write at most. */
  batchSize: number;
  /** A partial batch is written once its oldest entry has waited this long. */
  flushMs: number;
  /** Pause after a read that found nothing. */
  pollMs: number;
  retentionDays: number;
  retentionIntervalMs: number;
  /** How often entries abandoned by a dead logger are claimed. */
  claimIntervalMs: number;
}

/**
 * Drains the payload-log streams into Parquet, at least once: entries are
 * acknowledged (and deleted) only after the file holding them is written. A
 * crash or a failed write leaves them pending; they are read again (this
 * consumer's own pending entries first) and written again, so a request id
 * can appear twice in the files: readers deduplicate by request_id.
 */
export class PayloadLogger {
  private readonly buffer = new Map<string, ReadEntry>();
  private oldestAt = 0;
  /** Reading this consumer's own unacknowledged entries (after a start or a failed write) before new ones. */
  private recovering = true;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly opts: PayloadLoggerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops reading, writes what is buffered, and resolves when done (graceful shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { reader, batchSize, pollMs } = this.opts;
    let lastClaim = 0;
    let lastRetention = 0;
    while (!this.stopping) {
      let idle = true;
      try {
        if (Date.now() - lastRetention >= this.opts.retentionIntervalMs) {
          lastRetention = Date.now();
          await this.retention();
        }
        const room = batchSize - this.buffer.size;
        let got: ReadEntry[];
        if (this.recovering) {
          got = await reader.read(room, true);
          if (got.length === 0) this.recovering = false;
        } else {
          got = [];
          if (Date.now() - lastClaim >= this.opts.claimIntervalMs) {
            lastClaim = Date.now();
            got = await reader.claimAbandoned(room);
          }
          got.push(...(await reader.read(room - got.length, false)));
        }
        this.add(got);
        idle = got.length === 0;
        const due = this.buffer.size >= batchSize || (this.buffer.size > 0 && (this.recovering || Date.now() - this.oldestAt >= this.opts.flushMs));
        if (due) await this.flush();
      } catch (err) {
        this.opts.metrics.errors.inc({ stage: 'read' });
        this.opts.logger.warn({ err }, 'reading the payload-log streams failed; retrying');
      }
      if (idle && !this.stopping) await this.sleep(pollMs);
    }
    await this.flush();
  }

  private add(entries: ReadEntry[]): void {
    for (const e of entries) {
      if (this.buffer.size === 0) this.oldestAt = Date.now();
      this.buffer.set(`${e.stream.key}\n${e.id}`, e);
    }
  }

  /** Writes the buffer (one file per table and partition), then acks it. A failure leaves the entries pending. */
  private async flush(): Promise<void> {
    if (this.buffer.size === 0) return;
    const entries = [...this.buffer.values()];
    this.buffer.clear();
    const payloads: PayloadEntry[] = [];
    const feedback: FeedbackEntry[] = [];
    for (const e of entries) {
      if (!e.fields) continue; // deleted while pending: nothing to write, ack it
      const row = e.stream.table === 'payloads' ? fromStreamEntry(payloadEntrySchema, e, ['pixels']) : fromStreamEntry(feedbackEntrySchema, e);
      if (!row) {
        this.opts.metrics.errors.inc({ stage: 'invalid' });
        this.opts.logger.warn({ stream: e.stream.key, id: e.id }, 'malformed payload-log entry dropped');
      } else if (e.stream.table === 'payloads') payloads.push(row as PayloadEntry);
      else feedback.push(row as FeedbackEntry);
    }
    const { writer, root, metrics } = this.opts;
    try {
      metrics.files.inc({ table: 'payloads' }, (await writer.writePayloads(root, payloads)).length);
      metrics.files.inc({ table: 'feedback' }, (await writer.writeFeedback(root, feedback)).length);
    } catch (err) {
      metrics.errors.inc({ stage: 'write' });
      this.opts.logger.error({ err, entries: entries.length }, 'writing Parquet failed; the entries stay pending and are written again');
      this.recovering = true;
      return;
    }
    for (const r of payloads) metrics.written.inc({ table: 'payloads', model: r.model });
    for (const r of feedback) metrics.written.inc({ table: 'feedback', model: r.model });
    const byStream = new Map<string, string[]>();
    for (const e of entries) byStream.set(e.stream.key, [...(byStream.get(e.stream.key) ?? []), e.id]);
    try {
      for (const [stream, ids] of byStream) await this.opts.reader.ack(stream, ids);
    } catch (err) {
      // Written but not acknowledged: they will be written again (duplicates, deduplicated on read).
      metrics.errors.inc({ stage: 'ack' });
      this.opts.logger.warn({ err }, 'acknowledging written entries failed');
      this.recovering = true;
    }
  }

  private async retention(): Promise<void> {
    try {
      const deleted = await applyRetention(this.opts.root, this.opts.retentionDays);
      this.opts.metrics.retentionDeleted.inc(deleted.length);
      if (deleted.length > 0) this.opts.logger.info({ deleted }, 'payload-log partitions past retention deleted');
    } catch (err) {
      this.opts.metrics.errors.inc({ stage: 'retention' });
      this.opts.logger.warn({ err }, 'payload-log retention failed');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
