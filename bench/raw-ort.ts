import { Worker } from 'node:worker_threads';

export interface RawResult {
  batchSize: number;
  threads: number;
  imagesPerSecond: number;
}

/**
 * Raw onnxruntime throughput of a model: `threads` sessions (one per worker
 * thread, one intra-op thread each: the same compute as that many inference
 * worker processes) running batches of `batchSize` random examples back to
 * back for `seconds`. No decoding, no queue: the ceiling for the service.
 */
export async function measureRawOrt(onnx: Uint8Array, batchSize: number, opts: { threads: number; seconds: number }): Promise<RawResult> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const ort = require('onnxruntime-node');
    (async () => {
      const { onnx, batchSize, seconds } = workerData;
      const session = await ort.InferenceSession.create(new Uint8Array(onnx), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
      const meta = session.inputMetadata?.[0];
      const name = session.inputNames[0];
      const dims = (meta && meta.shape ? meta.shape.slice(1) : []).map(Number);
      const size = dims.reduce((a, b) => a * b, 1);
      const input = new ort.Tensor('float32', Float32Array.from({ length: batchSize * size }, () => Math.random()), [batchSize, ...dims]);
      for (let i = 0; i < 2; i++) await session.run({ [name]: input });
      parentPort.postMessage('ready');
      await new Promise((r) => parentPort.once('message', r));
      const until = performance.now() + seconds * 1000;
      let images = 0;
      while (performance.now() < until) { await session.run({ [name]: input }); images += batchSize; }
      parentPort.postMessage(images);
    })();`;
  const workers = Array.from({ length: opts.threads }, () => new Worker(code, { eval: true, workerData: { onnx: Buffer.from(onnx), batchSize, seconds: opts.seconds } }));
  const message = (w: Worker) => new Promise<unknown>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
  await Promise.all(workers.map(message));
  const started = performance.now();
  const counts = workers.map(message);
  for (const w of workers) w.postMessage('go');
  const images = (await Promise.all(counts)).reduce((a: number, b) => a + (b as number), 0);
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return { batchSize, threads: opts.threads, imagesPerSecond: images / seconds };
}
