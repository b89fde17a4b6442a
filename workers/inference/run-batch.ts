import type { Logger } from 'pino';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { topK, type Prediction } from '../../lib/model/postprocess';
import type { Pixels } from '../../lib/model/preprocess';
import { pixelFields, type PayloadEntry } from '../../lib/payload-log/records';
import type { InferenceFailureCode, InferenceRequest } from '../../lib/queue/messages';
import type { LoadedModel } from './model-loader';
import { ExampleError, prepareExample } from './prepare-example';

export const TOP_K = 5;

export type Runnable = { entryId: string; request: InferenceRequest };

/** `example`: the input as the version that ran it saw it (another version with the same input metadata can reuse it). */
export type RunOutcome = { item: Runnable; ok: true; predictions: Prediction[]; example: Float32Array } | { item: Runnable; ok: false; code: InferenceFailureCode; message: string };

export interface RunContext {
  /** The registered model (stream) the items belong to. */
  model: string;
  metrics: InferenceMetrics;
  logger: Logger;
  maxInputPixels: number;
  /** Where an answering run puts the payload-log entries of its requests marked `log` (written once the replies are out). */
  payloads?: PayloadEntry[];
}

/**
 * Prepares `items` for `loaded` (its own metadata), runs them in one
 * onnxruntime run once `after` is done, and says per item what came out.
 * Per-version metrics count every run, answered or not; the model's serving
 * metrics (queue wait, batch size, run time) only count runs that answer
 * (`answering`), so a shadow run does not count as served traffic. `examples`
 * are inputs already prepared for this version's input metadata (not prepared again).
 */
export async function runBatch(
  ctx: RunContext,
  items: Runnable[],
  loaded: LoadedModel,
  after: Promise<void>,
  { answering = true, examples }: { answering?: boolean; examples?: ReadonlyMap<Runnable, Float32Array> } = {},
): Promise<RunOutcome[]> {
  const { metrics, logger, model, maxInputPixels } = ctx;
  const outcomes: RunOutcome[] = [];
  const prepared = await Promise.all(
    items.map((item) => {
      const reused = examples?.get(item);
      return (reused ? Promise.resolve({ example: reused, pixels: null }) : prepareExample(item.request.input, loaded.metadata, maxInputPixels)).then(
        ({ example, pixels }) => ({ item, example, pixels }),
        (err: unknown) => ({ item, error: err instanceof ExampleError ? err : new ExampleError('INVALID_REQUEST', String(err)) }),
      );
    }),
  );
  const valid: Array<{ item: Runnable; example: Float32Array; pixels: Pixels | null }> = [];
  for (const p of prepared) {
    if ('error' in p) {
      if (answering) metrics.failed.inc({ model, reason: p.error.code.toLowerCase() });
      outcomes.push({ item: p.item, ok: false, code: p.error.code, message: p.error.message });
    } else valid.push(p);
  }
  if (valid.length === 0) return outcomes;

  await after;
  const version = { model, version: loaded.ref.version };
  const started = Date.now();
  if (answering) {
    for (const { item } of valid) metrics.queueWait.observe({ model }, Math.max(0, started - item.request.enqueuedAt) / 1000);
    metrics.batchSize.observe({ model }, valid.length);
  }
  const endTimer = answering ? metrics.inferenceDuration.startTimer({ model }) : null;
  const endVersionTimer = metrics.versionInference.startTimer(version);
  try {
    const probabilities = await loaded.runner.probabilities(valid.map((v) => v.example));
    // Each request's own top-k: every class for the Open Inference Protocol, the default for /predict.
    const predictions = valid.map(({ item }, i) => topK(probabilities[i] ?? [], loaded.metadata.labels, item.request.k ?? TOP_K));
    endTimer?.();
    endVersionTimer();
    metrics.versionRequests.inc({ ...version, outcome: 'ok' }, valid.length);
    const answeredAt = Date.now();
    valid.forEach(({ item, example, pixels }, i) => {
      const top = predictions[i] ?? [];
      if (top[0]) metrics.versionPredictions.inc({ ...version, label: top[0].label });
      outcomes.push({ item, ok: true, predictions: top, example });
      if (answering && item.request.log && pixels) ctx.payloads?.push(payloadEntry(item, loaded, top, pixels, answeredAt));
    });
  } catch (err) {
    logger.error({ err, size: valid.length, model, version: loaded.ref.version }, 'inference run failed');
    if (answering) metrics.failed.inc({ model, reason: 'inference_failed' }, valid.length);
    metrics.versionRequests.inc({ ...version, outcome: 'error' }, valid.length);
    for (const { item } of valid) outcomes.push({ item, ok: false, code: 'INFERENCE_FAILED', message: 'The model failed to run' });
  }
  return outcomes;
}

/** A sampled request's payload-log entry: the pixels exactly as `loaded` saw them, its answer, and its time in the queue and the run. */
function payloadEntry(item: Runnable, loaded: LoadedModel, predictions: Prediction[], pixels: Pixels, answeredAt: number): PayloadEntry {
  const { request } = item;
  return {
    request_id: request.requestId,
    model: loaded.ref.name,
    version: loaded.ref.version,
    ts: answeredAt,
    top_k: predictions,
    latency_ms: Math.max(0, answeredAt - request.enqueuedAt),
    ...pixelFields(pixels),
  };
}
