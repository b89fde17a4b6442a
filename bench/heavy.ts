import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import type { MlflowClient } from '../lib/mlflow/client';
import { freePort } from '../lib/process/free-port';
import { onRedis } from '../tests/support/redis-server';
import { accountCpu, snapshotCpu, type CpuAccount } from './cpu-accounts';
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
  /** Where the CPU went during the batched load. */
  cpu: HeavyCpuBudget;
  spareCore: SpareCoreResult | null;
}

/** The batched load with fewer workers than cores (see withSpareCore). */
export interface SpareCoreResult {
  workers: number;
  raw: RawResult;
  load: LoadResult & { maxBatchSize: number };
  ratioToRaw: number;
  cpu: HeavyCpuBudget;
}

/**
 * The batched load's CPU, split into onnxruntime and everything else. On a machine the load saturates,
 * throughput is cores / (CPU per request), so the CPU spent outside onnxruntime per request bounds the
 * ratio to raw onnxruntime (which has every core to itself) whatever the service does with its batches.
 */
export interface HeavyCpuBudget {
  seconds: number;
  machineCores: number;
  /** Cores busy on the whole machine during the load. */
  busyCores: number;
  /** The workers' onnxruntime threads (each worker's busiest thread). */
  inferenceCores: number;
  workerOtherCores: number;
  apiCores: number;
  redisCores: number;
  /** wrk, the stack's resident processes, the kernel. */
  restCores: number;
  /** onnxruntime CPU per image in the service, and raw onnxruntime's at its best batch size. */
  inferenceMsPerImage: number;
  rawMsPerImage: number;
  /** CPU per request spent outside onnxruntime (HTTP, decode, queue, reply, load generator, everything). */
  outsideMsPerRequest: number;
  /** The ratio to raw this machine allows at that outside CPU if onnxruntime were as efficient as raw's best batch. */
  ceilingRatio: number;
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
/** A fleet load's CPU account, with the process ids that say which process is what in it. */
interface FleetCpu {
  account: CpuAccount;
  api: number;
  workers: number[];
  redis: number | null;
}

async function serveAndLoad(opts: HeavyOptions, workers: number, maxBatchSize: number, images: Buffer[]): Promise<{ load: LoadResult; cpu: FleetCpu }> {
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const common = { REDIS_URL: opts.redisUrl, REDIS_PREFIX: prefix, MLFLOW_TRACKING_URI: opts.trackingUri, MODEL_NAME: HEAVY_MODEL };
  const port = await freePort();
  const processes = [
    BenchProcess.start('bench api', 'api/server', { ...common, PORT: String(port), MAX_QUEUE_LENGTH: '10000' }),
    ...Array.from({ length: workers }, (_, i) =>
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
      `${workers} workers serving the heavy model`,
      async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        return res.ok && ((await res.json()) as { workers: number }).workers === workers;
      },
      120_000,
      processes,
    );
    await runWrk(`http://127.0.0.1:${port}/predict`, images, { connections: opts.connections, seconds: 2, threads: 2 }); // warm-up
    const [api, ...workerPids] = processes.map((p) => p.pid);
    const redis = await redisPid(opts.redisUrl);
    const pids = [api!, ...workerPids, ...(redis ? [redis] : [])];
    const before = snapshotCpu(pids);
    const load = await runWrk(`http://127.0.0.1:${port}/predict`, images, { connections: opts.connections, seconds: opts.seconds, threads: 2, timeoutSeconds: 20 });
    return { load, cpu: { account: accountCpu(before, snapshotCpu(pids)), api: api!, workers: workerPids, redis } };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}

/** The Redis server's process id (null if it cannot be asked, or runs elsewhere: then it counts in the rest). */
async function redisPid(url: string): Promise<number | null> {
  // The single Redis at REDIS_URL (the heavy fleet's transport): one PID to read in /proc, unlike a cluster's six.
  const info = await onRedis(url, (redis) => redis.info('server')).catch(() => '');
  const pid = /process_id:(\d+)/.exec(info)?.[1];
  return pid ? Number(pid) : null;
}

function budgetOf(cpu: FleetCpu, load: LoadResult, bestRaw: RawResult): HeavyCpuBudget {
  const { account } = cpu;
  const of = (pid: number | null) => (pid === null ? undefined : account.byPid.get(pid));
  const workers = cpu.workers.map((pid) => of(pid) ?? { cores: 0, busiestThreadCores: 0 });
  const inferenceCores = workers.reduce((a, w) => a + w.busiestThreadCores, 0);
  const workerOtherCores = workers.reduce((a, w) => a + w.cores - w.busiestThreadCores, 0);
  const apiCores = of(cpu.api)?.cores ?? 0;
  const redisCores = of(cpu.redis)?.cores ?? 0;
  const machineCores = cpus().length;
  const rawMsPerImage = (1000 * bestRaw.threads) / bestRaw.imagesPerSecond;
  const outsideMsPerRequest = (1000 * (account.machineCores - inferenceCores)) / load.rps;
  return {
    seconds: account.seconds,
    machineCores,
    busyCores: account.machineCores,
    inferenceCores,
    workerOtherCores,
    apiCores,
    redisCores,
    restCores: account.machineCores - inferenceCores - workerOtherCores - apiCores - redisCores,
    inferenceMsPerImage: (1000 * inferenceCores) / load.rps,
    rawMsPerImage,
    outsideMsPerRequest,
    // The CPU bound (all cores busy at raw's efficiency); raw's own thread count bounds it too (at most 100 %).
    ceilingRatio: Math.min(1, (1000 * machineCores) / (rawMsPerImage + outsideMsPerRequest) / bestRaw.imagesPerSecond),
  };
}

function logBudget(opts: HeavyOptions, cpu: HeavyCpuBudget): void {
  const c = (cores: number) => cores.toFixed(2);
  opts.log(`  CPU during that load (${cpu.seconds.toFixed(1)} s, ${cpu.machineCores} cores): ${c(cpu.busyCores)} cores busy = onnxruntime threads ${c(cpu.inferenceCores)}, workers' other threads ${c(cpu.workerOtherCores)}, API ${c(cpu.apiCores)}, Redis ${c(cpu.redisCores)}, the rest (wrk, resident stack, kernel) ${c(cpu.restCores)}`);
  opts.log(`  onnxruntime ${cpu.inferenceMsPerImage.toFixed(2)} ms CPU per image (raw at its best batch ${cpu.rawMsPerImage.toFixed(2)}); outside onnxruntime ${cpu.outsideMsPerRequest.toFixed(2)} ms per request, so this machine allows at most ${(100 * cpu.ceilingRatio).toFixed(0)}% of raw`);
}

/**
 * The same measurement with fewer workers than cores (cores - 1), against raw onnxruntime with as many
 * threads: what the service keeps of onnxruntime's throughput when its HTTP, decode, queue and the load
 * generator have a core of their own instead of taking it from inference. Null when there is no core to spare.
 */
async function withSpareCore(opts: HeavyOptions, bytes: Uint8Array, batchSize: number, images: Buffer[]): Promise<SpareCoreResult | null> {
  const workers = cpus().length - 1;
  if (workers < 1 || workers >= opts.workers) return null;
  const raw = await measureRawOrt(bytes, batchSize, { threads: workers, seconds: 4 });
  opts.log(`  with a core to spare: raw onnxruntime, batch ${batchSize}, ${workers} thread(s): ${raw.imagesPerSecond.toFixed(0)} images/s`);
  const served = await serveAndLoad(opts, workers, opts.maxBatchSize, images);
  const load = { ...served.load, maxBatchSize: opts.maxBatchSize };
  opts.log(`  with a core to spare: service, ${workers} worker(s), MAX_BATCH_SIZE=${opts.maxBatchSize}: ${load.rps.toFixed(0)} req/s (${((100 * load.rps) / raw.imagesPerSecond).toFixed(0)}% of raw)`);
  const cpu = budgetOf(served.cpu, load, raw);
  logBudget(opts, cpu);
  return { workers, raw, load, ratioToRaw: load.rps / raw.imagesPerSecond, cpu };
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
  const served = await serveAndLoad(opts, opts.workers, opts.maxBatchSize, images);
  const batched = { ...served.load, maxBatchSize: opts.maxBatchSize };
  opts.log(`  service, MAX_BATCH_SIZE=${opts.maxBatchSize}: ${batched.rps.toFixed(0)} req/s`);
  const cpu = budgetOf(served.cpu, batched, bestRaw);
  logBudget(opts, cpu);
  const unbatched = { ...(await serveAndLoad(opts, opts.workers, 1, images)).load, maxBatchSize: 1 };
  opts.log(`  service, MAX_BATCH_SIZE=1: ${unbatched.rps.toFixed(0)} req/s`);
  const spareCore = await withSpareCore(opts, bytes, bestRaw.batchSize, images);
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
    cpu,
    spareCore,
  };
}
