import type { ActiveModel, TrafficState } from '../../lib/fleet/protocol';
import { sniffImageFormat } from '../../lib/model/image-format';
import { decodeToPixels, PreprocessError } from '../../lib/model/preprocess';
import type { InferenceClient, InferenceResult, InferItem } from '../../lib/queue/inference-client';
import type { RequestInput } from '../../lib/queue/messages';
import { ModelNotServedError, type ServedModelSource } from './served-models';
import type { TrafficSource } from './served-traffic';
import { routeRequest } from './traffic-router';

export interface PredictorOptions {
  inference: Pick<InferenceClient, 'inferMany'>;
  models: ServedModelSource;
  /** Progressive rollouts' traffic plans (none: the champion answers everything). */
  traffic?: TrafficSource;
  /** The model behind POST /predict. */
  defaultModel: string;
  /** Where uploads are decoded (see ApiConfig.DECODE_IN). */
  decodeIn: 'auto' | 'api' | 'worker';
  /** With decodeIn 'auto': uploads up to this size go to the workers undecoded. */
  workerDecodeMaxBytes: number;
  maxImagePixels: number;
  requestTimeoutMs: number;
  /** Whether a request for `model` goes to the payload log (PayloadSampler); none when absent. */
  sampleForLog?: (model: string) => boolean;
}

export interface Upload {
  filename?: string;
  bytes: Buffer;
}

/** Pixels the client already decoded at the model's input geometry (uint8, HWC): the Open Inference Protocol's `pixels` input. */
export interface RawPixels {
  pixels: Uint8Array;
  height: number;
  width: number;
  channels: number;
}

export interface PredictOptions {
  /** Top-k the worker answers with (its default, 5, when absent); the label count asks for every class. */
  k?: number;
  /** The caller's X-Lifecycle-Key, which pins it to one version during a canary. */
  key?: string;
  /** The caller asked for the served version by number: no traffic plan routes it elsewhere. */
  pinned?: boolean;
}

/** One image's outcome in a batch. */
export type ItemOutcome = { ok: true; result: InferenceResult } | { ok: false; error: Error };

/**
 * Turns uploads into predictions of a served model: decodes each upload once
 * to the model's input geometry, or (small uploads with DECODE_IN=auto, all
 * with DECODE_IN=worker) only checks its format and lets the worker decode it, queues it on the model's stream and
 * waits for the answer until the request's deadline. Normalisation is left to
 * the worker, which applies the metadata of the version that actually runs.
 */
export class Predictor {
  constructor(private readonly opts: PredictorOptions) {}

  get defaultModel(): string {
    return this.opts.defaultModel;
  }

  /** Whether `name` is a served model, or the default one (label values stay bounded to those). */
  serves(name: string): boolean {
    return name === this.opts.defaultModel || this.opts.models.get(name) !== null;
  }

  /** The served model `name` (default: the default model), or ModelNotServedError. */
  resolve(name?: string): ActiveModel {
    const wanted = name ?? this.opts.defaultModel;
    const model = this.opts.models.get(wanted);
    if (!model) throw new ModelNotServedError(wanted, wanted === this.opts.defaultModel);
    return model;
  }

  /** `key`: the caller's X-Lifecycle-Key, which pins it to one version during a canary. */
  async predict(model: ActiveModel, upload: Upload, requestId: string, receivedAt: number, key?: string): Promise<InferenceResult> {
    const plan = this.opts.traffic?.get(model.name) ?? null;
    if (plan) return this.predictRouted(model, plan, upload, requestId, receivedAt, key);
    const input = await this.prepare(model, upload);
    const [result] = await this.opts.inference.inferMany([this.item(model, input, requestId, receivedAt)]);
    return result!;
  }

  /**
   * Every image of a batch, in upload order. A bad image fails alone; the good ones are queued
   * together (all or none: a full or unreachable queue fails the whole request with 503).
   */
  async predictBatch(model: ActiveModel, uploads: Array<Upload | RawPixels>, requestId: string, receivedAt: number, options: PredictOptions = {}): Promise<ItemOutcome[]> {
    // A request pinned to a version (the Open Inference Protocol's /versions/{v}) is never routed to another one.
    const plan = options.pinned ? null : (this.opts.traffic?.get(model.name) ?? null);
    const key = options.key;
    const prepared = await Promise.all(
      uploads.map((u) => {
        const route = routeRequest(plan, key);
        // A canary request is prepared for the candidate that answers it (its input geometry may differ).
        const target = route.answeredBy === 'candidate' && plan ? plan.candidate : model;
        return this.prepare(target, u).then((input) => ({ input, route }), (error: Error) => ({ error }));
      }),
    );
    const valid = prepared.flatMap((p, index) => ('input' in p ? [{ index, input: p.input, route: p.route }] : []));
    const waits = await this.opts.inference.inferMany(
      valid.map((v) => ({
        ...this.item(model, v.input, `${requestId}#${v.index}`, receivedAt),
        variant: v.route.variant,
        candidateVersion: v.route.candidateVersion,
        ...(options.k !== undefined ? { k: options.k } : {}),
      })),
    );
    const results = await Promise.allSettled(waits);
    const outcomes: ItemOutcome[] = prepared.map((p) => ({ ok: false, error: 'error' in p ? p.error : new Error('not run') }));
    valid.forEach((v, i) => {
      const r = results[i]!;
      outcomes[v.index] = r.status === 'fulfilled' ? { ok: true, result: r.value } : { ok: false, error: r.reason as Error };
    });
    return outcomes;
  }

  private async predictRouted(model: ActiveModel, plan: TrafficState, upload: Upload, requestId: string, receivedAt: number, key?: string): Promise<InferenceResult> {
    const route = routeRequest(plan, key);
    const input = await this.prepare(route.answeredBy === 'candidate' ? plan.candidate : model, upload);
    const item = { ...this.item(model, input, requestId, receivedAt), variant: route.variant, candidateVersion: route.candidateVersion };
    const [result] = await this.opts.inference.inferMany([item]);
    return result!;
  }

  private decodesInWorker(upload: Upload): boolean {
    const { decodeIn, workerDecodeMaxBytes } = this.opts;
    return decodeIn === 'worker' || (decodeIn === 'auto' && upload.bytes.length <= workerDecodeMaxBytes);
  }

  private async prepare(model: ActiveModel, upload: Upload | RawPixels): Promise<RequestInput> {
    // Already pixels (checked against the model's geometry by the caller): the worker normalises them like any request.
    if ('pixels' in upload) return { kind: 'pixels', ...upload };
    if (this.decodesInWorker(upload)) {
      if (!sniffImageFormat(upload.bytes)) throw new PreprocessError('UNSUPPORTED_IMAGE', 'The upload is not a supported image (PNG, JPEG, WebP, GIF or TIFF)');
      return { kind: 'image', image: upload.bytes };
    }
    const pixels = await decodeToPixels(upload.bytes, model.metadata.input, { maxInputPixels: this.opts.maxImagePixels });
    return { kind: 'pixels', pixels: pixels.data, height: pixels.height, width: pixels.width, channels: pixels.channels };
  }

  private item(model: ActiveModel, input: RequestInput, requestId: string, receivedAt: number): InferItem {
    const item: InferItem = { requestId, model: model.name, input, deadline: receivedAt + this.opts.requestTimeoutMs };
    // The worker that answers writes the sampled input to the payload log: it holds the pixels as its model saw them.
    if (this.opts.sampleForLog?.(model.name)) item.log = true;
    return item;
  }
}
