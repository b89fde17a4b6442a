import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { MlflowClient } from '../lib/mlflow/client';
import { freePort } from '../lib/process/free-port';
import { registerBenchModel } from './bench-models';
import { BenchProcess, waitUntil } from './processes';
import { measureRawOrt, type RawResult } from './raw-ort';
import { randomRgbPngs } from './samples';
import { runWrk, type LoadResult } from './wrk';

export const HEAVY_MODEL = 'lifecycle-bench-heavy-cnn';
/** Not `champion`: the stack's workers (SERVED_MODELS=*) must not pick the benchmark model up. */
const HEAVY_ALIAS = 'bench';
const ROOT = resolve(__dirname, '..');

export interface HeavyResult {
  flopsPerImage: number;
  parameters: number;
  workers: number;
  raw: RawResult[];
  bestRaw: RawResult;
  batched: LoadResult & { maxBatchSize: number };
  unbatched: LoadResult & { maxBatchSize: number };
  /** Service throughput over raw onnxruntime at its best batch size (goal >= 0.8). */
  ratioToRaw: number;
  /** Batched over max-batch-size-1 throughput (goal >= 2). */
  batchingGain: number;
}

export interface HeavyOptions {
  mlflow: MlflowClient;
  redisUrl: string;
  trackingUri: string;
  workDir: string;
  workers: number;
  connections: number;
  seconds: number;
  maxBatchSize: number;
  log: (line: string) => void;
}

/** Generates the model (deterministic: same file every run) and registers it once, under its own alias. */
async function registerHeavy(opts: HeavyOptions): Promise<{ bytes: Buffer; flops: number; parameters: number }> {
  const file = join(opts.workDir, 'heavy.onnx');
  const out = execFileSync(join(ROOT, '.venv/bin/python'), [join(ROOT, 'bench/make_heavy_model.py'), file], { encoding: 'utf8' });
  const info = JSON.parse(out.trim().split('\n').pop()!) as { flops_per_image: number; parameters: number };
  const bytes = readFileSync(file);
  await registerBenchModel(opts.mlflow, { name: HEAVY_MODEL, alias: HEAVY_ALIAS, bytes, description: 'Benchmark model (random weights), made by npm run bench; not a real classifier.', log: opts.log });
  return { bytes, flops: info.flops_per_image, parameters: info.parameters };
}

/**
 * The heavy model served by a fleet of its own (an API and `workers`
 * inference workers, the same code `make up` runs, on their own Redis
 * prefix), loaded with `connections` connections for `seconds`.
 */
async function serveAndLoad(opts: HeavyOptions, maxBatchSize: number, images: Buffer[]): Promise<LoadResult> {
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const common = { REDIS_URL: opts.redisUrl, REDIS_PREFIX: prefix, MLFLOW_TRACKING_URI: opts.trackingUri, MODEL_NAME: HEAVY_MODEL };
  const port = await freePort();
  const processes = [
    BenchProcess.start('bench api', 'api/server', { ...common, PORT: String(port), MAX_QUEUE_LENGTH: '10000' }),
    ...Array.from({ length: opts.workers }, (_, i) =>
      BenchProcess.start(`bench worker ${i + 1}`, 'workers/inference-worker', {
        ...common,
        SERVED_MODELS: HEAVY_MODEL,
        MODEL_ALIAS: HEAVY_ALIAS,
        WORKER_ID: `${prefix}w${i + 1}`,
        METRICS_PORT: '0',
        MAX_BATCH_SIZE: String(maxBatchSize),
        MODEL_CACHE_DIR: join(opts.workDir, 'models'),
      }),
    ),
  ];
  try {
    await waitUntil(
      `${opts.workers} workers serving the heavy model`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.ok && ((await res.json()) as { workers: number }).workers === opts.workers;
      },
      120_000,
      processes,
    );
    await runWrk(`http://127.0.0.1:${port}/predict`, images, { connections: opts.connections, seconds: 2, threads: 2 }); // warm-up
    return await runWrk(`http://127.0.0.1:${port}/predict`, images, { connections: opts.connections, seconds: opts.seconds, threads: 2, timeoutSeconds: 20 });
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}

export async function benchHeavy(opts: HeavyOptions): Promise<HeavyResult> {
  const { bytes, flops, parameters } = await registerHeavy(opts);
  opts.log(`heavy model: ${(flops / 1e6).toFixed(0)} MFLOP per image, ${(parameters / 1e6).toFixed(1)} M parameters`);
  const raw: RawResult[] = [];
  for (const batchSize of [1, 4, 16, 32, 64]) {
    raw.push(await measureRawOrt(bytes, batchSize, { threads: opts.workers, seconds: 4 }));
    opts.log(`  raw onnxruntime, batch ${batchSize}, ${opts.workers} thread(s): ${raw.at(-1)!.imagesPerSecond.toFixed(0)} images/s`);
  }
  const bestRaw = raw.reduce((a, b) => (b.imagesPerSecond > a.imagesPerSecond ? b : a));
  const images = await randomRgbPngs(16, 32);
  const batched = { ...(await serveAndLoad(opts, opts.maxBatchSize, images)), maxBatchSize: opts.maxBatchSize };
  opts.log(`  service, MAX_BATCH_SIZE=${opts.maxBatchSize}: ${batched.rps.toFixed(0)} req/s`);
  const unbatched = { ...(await serveAndLoad(opts, 1, images)), maxBatchSize: 1 };
  opts.log(`  service, MAX_BATCH_SIZE=1: ${unbatched.rps.toFixed(0)} req/s`);
  return {
    flopsPerImage: flops,
    parameters,
    workers: opts.workers,
    raw,
    bestRaw,
    batched,
    unbatched,
    ratioToRaw: batched.rps / bestRaw.imagesPerSecond,
    batchingGain: batched.rps / unbatched.rps,
  };
}
