import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import type { ActiveModel } from '../../lib/fleet/protocol';
import type { PayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import type { PayloadLogApiConfig } from '../../lib/payload-log/config';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import type { PredictionRecord } from '../../lib/payload-log/records';
import { BackgroundWork } from '../../lib/process/background-work';
import type { InferenceResult } from '../../lib/queue/inference-client';

/** One answered image: its request id (`<id>#<index>` inside a batch) and its answer. */
export interface AnsweredImage {
  requestId: string;
  result: InferenceResult;
}

export interface PredictionRecorderOptions {
  redis: RedisClient;
  prefix: string;
  config: Pick<PayloadLogApiConfig, 'FEEDBACK_WINDOW_SECONDS'>;
  metrics: PayloadLogMetrics;
  logger: Logger;
}

const round4 = (p: number) => Math.round(p * 10_000) / 10_000;

/**
 * Records answered predictions after the reply, never in its way: `record`
 * returns at once and its Redis writes run on their own, with failures
 * counted (lifecycle_payload_log_errors_total), never thrown. Every answered
 * image leaves a small prediction record (version, time, top-k) with a TTL of
 * FEEDBACK_WINDOW_SECONDS, so feedback can be joined to it by request id from
 * any API instance. (The payload log itself is written by the worker that
 * answered a sampled request: see PayloadSampler and PayloadLogWriter.)
 */
export class PredictionRecorder {
  private readonly keys: ReturnType<typeof payloadLogKeys>;
  private readonly background = new BackgroundWork();
  /** model/version pairs whose labels this process has already published. */
  private readonly labelsWritten = new Set<string>();

  constructor(private readonly opts: PredictionRecorderOptions) {
    this.keys = payloadLogKeys(opts.prefix);
  }

  /** Fire-and-forget: records `images`, answered by `model`'s fleet. */
  record(model: ActiveModel, images: AnsweredImage[]): void {
    const now = Date.now();
    for (const image of images) this.track(this.writeRecord(model, image, now), model.name);
  }

  /** Resolves when every write started so far has finished (graceful shutdown, tests). */
  settled(): Promise<void> {
    return this.background.settled();
  }

  private track(work: Promise<unknown>, model: string): void {
    this.background.run(work, (err) => {
      this.opts.metrics.errors.inc({ model, kind: 'record' });
      this.opts.logger.debug({ err, model }, 'prediction record write failed');
    });
  }

  private async writeRecord(model: ActiveModel, image: AnsweredImage, now: number): Promise<void> {
    const { redis, config } = this.opts;
    const version = image.result.model.version;
    const record: PredictionRecord = { v: version, t: now, k: image.result.predictions.map((p) => ({ label: p.label, probability: round4(p.probability) })) };
    const writes: Array<Promise<unknown>> = [redis.set(this.keys.prediction(model.name, image.requestId), JSON.stringify(record), 'EX', config.FEEDBACK_WINDOW_SECONDS)];
    // The labels feedback may use, per version; known here only for the version the fleet serves (during a
    // rollout an answer can come from another one: feedback then falls back to the served version's labels).
    const labelsKey = `${model.name}\n${version}`;
    if (version === model.version && !this.labelsWritten.has(labelsKey)) {
      this.labelsWritten.add(labelsKey);
      writes.push(redis.hset(this.keys.labels(model.name), version, JSON.stringify(model.metadata.labels)).catch((err: unknown) => {
        this.labelsWritten.delete(labelsKey);
        throw err;
      }));
    }
    await Promise.all(writes);
  }
}
