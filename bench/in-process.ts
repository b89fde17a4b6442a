import type { ModelMetadata } from '../lib/model/metadata';
import { decodeToPixels } from '../lib/model/preprocess';
import { pixelsToTensor } from '../lib/model/tensor';
import { createOrtSession, ModelRunner } from '../lib/model/model-runner';

export interface InProcessResult {
  images: number;
  seconds: number;
  rps: number;
  meanBatch: number;
}

/**
 * The in-process limit: what one process does with the same work and none of
 * the serving path around it (no HTTP, no multipart, no Redis): decode each
 * upload with sharp into the model's geometry, normalise, and run dynamic
 * batches (up to `maxBatch`) through onnxruntime, decoding the next uploads
 * on libuv's pool while a batch runs.
 */
export async function measureInProcess(onnx: Uint8Array, metadata: ModelMetadata, uploads: Buffer[], opts: { images: number; maxBatch: number; decoders?: number }): Promise<InProcessResult> {
  const runner = new ModelRunner(await createOrtSession(onnx, { intraOpNumThreads: 1 }), metadata);
  const ready: Float32Array[] = [];
  let wake: (() => void) | null = null;
  let next = 0;
  const decode = async () => {
    while (next < opts.images) {
      const i = next++;
      const pixels = await decodeToPixels(uploads[i % uploads.length]!, metadata.input, { maxInputPixels: 25_000_000 });
      ready.push(pixelsToTensor(pixels.data, metadata.input, metadata.normalization));
      wake?.();
    }
  };
  let done = 0;
  let batches = 0;
  const started = performance.now();
  const decoders = Array.from({ length: opts.decoders ?? 16 }, decode);
  while (done < opts.images) {
    if (ready.length === 0) await new Promise<void>((r) => (wake = r));
    wake = null;
    const batch = ready.splice(0, opts.maxBatch);
    if (batch.length === 0) continue;
    await runner.predict(batch, 5);
    done += batch.length;
    batches++;
  }
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(decoders);
  await runner.release();
  return { images: done, seconds, rps: done / seconds, meanBatch: done / batches };
}
