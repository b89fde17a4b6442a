import type { RedisClient } from '../queue/redis-connection';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { BackgroundWork } from '../process/background-work';
import { appendIfRoom } from './append-if-room';
import { payloadLogKeys } from './keys';
import { toStreamFields, type PayloadEntry } from './records';

/** Prediction records (the API) or payloads (the inference workers) that could not be written. */
export function createPayloadLogErrorsCounter(registers: Registry[]) {
  return new Counter({
    name: 'lifecycle_payload_log_errors_total',
    help: 'Prediction records or payloads that could not be written (Redis unreachable), per model and kind',
    labelNames: ['model', 'kind'] as const,
    registers,
  });
}

/** The payload log's counters on the process that writes the entries (an inference worker). */
export function createPayloadWriteMetrics(registry: Registry) {
  const registers = [registry];
  return {
    logged: new Counter({
      name: 'lifecycle_payload_log_entries_total',
      help: 'Sampled payloads put on the payload-log stream, per model',
      labelNames: ['model'] as const,
      registers,
    }),
    dropped: new Counter({
      name: 'lifecycle_payload_log_dropped_total',
      help: "Sampled payloads dropped because the model's payload-log stream was at PAYLOAD_LOG_MAX_LENGTH (logger down or behind)",
      labelNames: ['model'] as const,
      registers,
    }),
    errors: createPayloadLogErrorsCounter(registers),
  };
}
export type PayloadWriteMetrics = ReturnType<typeof createPayloadWriteMetrics>;

export interface PayloadLogWriterOptions {
  /** The worker's command connection. */
  redis: RedisClient;
  prefix: string;
  /** PAYLOAD_LOG_MAX_LENGTH: the bound of each model's payload stream. */
  maxLength: number;
  metrics: PayloadWriteMetrics;
  logger: Logger;
}

/**
 * Puts sampled requests on their model's bounded payload stream, for the
 * payload logger to turn into Parquet. The inference worker that answered a
 * request marked `log` writes it, after the replies went out: it holds the
 * uint8 pixels its model ran on, so nothing is decoded a second time for the
 * log. `write` returns at once; a full stream drops the entry (counted), a
 * failed write is counted, neither ever reaches serving.
 */
export class PayloadLogWriter {
  private readonly keys: ReturnType<typeof payloadLogKeys>;
  private readonly append: ReturnType<typeof appendIfRoom>;
  private readonly background = new BackgroundWork();

  constructor(private readonly opts: PayloadLogWriterOptions) {
    this.keys = payloadLogKeys(opts.prefix);
    this.append = appendIfRoom(opts.redis);
  }

  write(entries: readonly PayloadEntry[]): void {
    for (const entry of entries) {
      this.background.run(this.writeOne(entry), (err) => {
        this.opts.metrics.errors.inc({ model: entry.model, kind: 'payload' });
        this.opts.logger.debug({ err, model: entry.model }, 'payload log write failed');
      });
    }
  }

  /** Resolves when every write started so far has finished (graceful shutdown, tests). */
  settled(): Promise<void> {
    return this.background.settled();
  }

  private async writeOne(entry: PayloadEntry): Promise<void> {
    const { redis, maxLength, metrics } = this.opts;
    // Every time (one cheap command per sampled request): a Redis that restarted empty is told again.
    await redis.sadd(this.keys.models, entry.model);
    const added = await this.append(this.keys.payloads(entry.model), maxLength, toStreamFields({ ...entry, top_k: JSON.stringify(entry.top_k) }));
    (added ? metrics.logged : metrics.dropped).inc({ model: entry.model });
  }
}
