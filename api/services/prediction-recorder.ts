import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ActiveModel } from '../../lib/fleet/protocol';
import { decodeToPixels } from '../../lib/model/preprocess';
import type { PayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import { appendIfRoom } from '../../lib/payload-log/append-if-room';
import type { PayloadLogApiConfig } from '../../lib/payload-log/config';
import { payloadLogKeys } from '../../lib/payload-log/keys';
import { pixelFields, toStreamFields, type PredictionRecord } from '../../lib/payload-log/records';
import type { InferenceResult } from '../../lib/queue/inference-client';

/** One answered image: its request id (`<id>#<index>` inside a batch), its answer and its upload. */
export interface AnsweredImage {
  requestId: string;
  result: InferenceResult;
  upload: Buffer;
}

export interface PredictionRecorderOptions {
  redis: Redis;
  prefix: string;
  config: Pick<PayloadLogApiConfig, 'PAYLOAD_LOG_SAMPLE' | 'PAYLOAD_LOG_DISABLED_MODELS' | 'PAYLOAD_LOG_MAX_LENGTH' | 'PAYLOAD_LOG_ENCODED_MAX_BYTES' | 'FEEDBACK_WINDOW_SECONDS'>;
  maxImagePixels: number;
  metrics: PayloadLogMetrics;
  logger: Logger;
  /** Sampling draw in [0, 1); tests may pin it. */
  random?: () => number;
  /** True while `model` is in a progressive rollout's shadow or canary step: all its traffic is logged then. */
  inTrafficStep?: (model: string) => boolean;
}

const round4 = (p: number) => Math.round(p * 10_000) / 10_000;

/**
 * Records answered predictions after the reply, never in its way: `record`
 * returns at once and its Redis writes and decoding run on their own, with
 * failures counted (lifecycle_payload_log_errors_total), never thrown.
 *
 * - Every answered image leaves a small prediction record (version, time,
 *   top-k) with a TTL of FEEDBACK_WINDOW_SECONDS, so feedback can be joined
 *   to it by request id from any API instance.
 * - A PAYLOAD_LOG_SAMPLE share of them (all of them while a progressive
 *   rollout's shadow or canary step runs; none for PAYLOAD_LOG_DISABLED_MODELS)
 *   also goes to the model's bounded payload stream with the input as the
 *   model saw it: uint8 pixels at the model's geometry, decoded with the same
 *   function and geometry as the worker's, so they are the ones that ran. An
 *   upload up to PAYLOAD_LOG_ENCODED_MAX_BYTES travels as it came, with the
 *   model's input spec, and the payload logger decodes it: the API does not
 *   decode every logged upload a second time (at 100% during a rollout step
 *   that doubled the decoding of a decode-bound model). A larger one is
 *   decoded here, so a stream entry stays bounded.
 */
export class PredictionRecorder {
  private readonly keys: ReturnType<typeof payloadLogKeys>;
  private readonly append: ReturnType<typeof appendIfRoom>;
  private readonly disabled: ReadonlySet<string>;
  private readonly pending = new Set<Promise<unknown>>();
  /** model/version pairs whose labels this process has already published. */
  private readonly labelsWritten = new Set<string>();

  constructor(private readonly opts: PredictionRecorderOptions) {
    this.keys = payloadLogKeys(opts.prefix);
    this.append = appendIfRoom(opts.redis);
    this.disabled = new Set(opts.config.PAYLOAD_LOG_DISABLED_MODELS);
  }

  /** Fire-and-forget: records `images`, answered by `model`'s fleet in `latencyMs`. */
  record(model: ActiveModel, images: AnsweredImage[], latencyMs: number): void {
    const now = Date.now();
    for (const image of images) {
      this.track(this.writeRecord(model, image, now), model.name, 'record');
      if (this.sampled(model.name)) this.track(this.logPayload(model, image, now, latencyMs), model.name, 'payload');
    }
  }

  /** Resolves when every write started so far has finished (graceful shutdown, tests). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** PAYLOAD_LOG_SAMPLE of the traffic, and all of it during a shadow or canary step (what the live analysis judges). */
  private sampled(model: string): boolean {
    if (this.disabled.has(model)) return false;
    if (this.opts.inTrafficStep?.(model)) return true;
    const share = this.opts.config.PAYLOAD_LOG_SAMPLE;
    return share > 0 && (this.opts.random ?? Math.random)() < share;
  }

  private track(work: Promise<unknown>, model: string, kind: 'record' | 'payload'): void {
    const p = work.catch((err: unknown) => {
      this.opts.metrics.errors.inc({ model, kind });
      this.opts.logger.debug({ err, model, kind }, 'payload log write failed');
    });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
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

  private async logPayload(model: ActiveModel, image: AnsweredImage, now: number, latencyMs: number): Promise<void> {
    const common = {
      request_id: image.requestId,
      model: model.name,
      version: image.result.model.version,
      ts: now,
      top_k: JSON.stringify(image.result.predictions),
      latency_ms: Math.round(latencyMs * 1000) / 1000,
    };
    let fields: Array<string | Buffer>;
    if (image.upload.byteLength <= this.opts.config.PAYLOAD_LOG_ENCODED_MAX_BYTES) {
      // The logger decodes it (records.ts, encodedPayloadEntrySchema): no second decode in the API.
      fields = toStreamFields({ ...common, upload: image.upload, input: JSON.stringify(model.metadata.input) });
    } else {
      const pixels = await decodeToPixels(image.upload, model.metadata.input, { maxInputPixels: this.opts.maxImagePixels });
      fields = toStreamFields({ ...common, ...pixelFields(pixels) });
    }
    // Every time (one cheap pipelined command per sampled image): a Redis that restarted empty is told again.
    await this.opts.redis.sadd(this.keys.models, model.name);
    const added = await this.append(this.keys.payloads(model.name), this.opts.config.PAYLOAD_LOG_MAX_LENGTH, fields);
    if (added) this.opts.metrics.logged.inc({ model: model.name });
    else this.opts.metrics.dropped.inc({ model: model.name });
  }
}
