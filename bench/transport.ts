import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { MlflowClient } from '../lib/mlflow/client';
import { freePort } from '../lib/process/free-port';
import { queueKeys } from '../lib/queue/keys';
import { OwnRedisCluster } from '../tests/support/redis-cluster';
import { registerBenchModel } from './bench-models';
import { servedModelBytes } from './fashion';
import { BenchProcess, waitUntil } from './processes';
import { runWrk, type LoadResult } from './wrk';

/**
 * Two copies of the default model under names whose hash tags land on different masters of a three-master
 * cluster (slots 15109 and 2918), so "two models" really spreads over two shards.
 */
export const TRANSPORT_MODELS = ['lifecycle-bench-a', 'lifecycle-bench-b'] as const;
const ALIAS = 'bench';

export interface TransportLine {
  transport: string;
  /** 64 connections on one model. */
  oneModel: LoadResult;
  /** 32 connections on each of the two models at once; `rps` is their sum. */
  twoModels: { rps: number; loads: LoadResult[] };
}

export interface TransportResult {
  single: TransportLine;
  cluster: TransportLine;
  /** The master port that holds each model's request stream on the cluster. */
  masters: Record<string, number>;
}

interface TransportOptions {
  mlflow: MlflowClient;
  modelName: string;
  redisUrl: string;
  trackingUri: string;
  workDir: string;
  workers: number;
  seconds: number;
  bodies: Buffer[];
  log: (line: string) => void;
}

/**
 * The same fleet (an API and `workers` inference workers serving both bench models, as `make up` runs them)
 * on a single Redis and on a Redis Cluster of the bench's own (three masters, three replicas, loopback), in
 * one run: one model at 64 connections, then both models at 32 connections each; rounds in ABBA order.
 */
export async function benchTransport(opts: TransportOptions): Promise<TransportResult> {
  const { bytes, version } = await servedModelBytes(opts.mlflow, opts.modelName);
  for (const name of TRANSPORT_MODELS) {
    await registerBenchModel(opts.mlflow, { name, alias: ALIAS, bytes, description: `Benchmark copy of ${opts.modelName} v${version}, made by npm run bench (transport section).`, log: opts.log });
  }
  opts.log('  starting a Redis Cluster of the bench\'s own (3 masters + 3 replicas)');
  const cluster = await OwnRedisCluster.start();
  try {
    const masters: Record<string, number> = {};
    for (const name of TRANSPORT_MODELS) masters[name] = await cluster.masterOf(queueKeys('').requests(name));
    opts.log(`  request streams: ${TRANSPORT_MODELS.map((n) => `${n} on master :${masters[n]}`).join(', ')}`);
    const targets = {
      // Empty REDIS_CLUSTER_NODES: the fleet's processes inherit the bench's environment, which names the
      // stack's cluster when the stack runs on one.
      single: { name: 'single Redis', env: { REDIS_URL: opts.redisUrl, REDIS_CLUSTER_NODES: '' } },
      cluster: { name: 'Redis Cluster 3+3', env: { REDIS_URL: 'redis://127.0.0.1', REDIS_CLUSTER_NODES: cluster.seeds } },
    };
    // ABBA rounds: whichever runs first or last on this VM would otherwise carry its drift.
    const rounds: Record<keyof typeof targets, TransportLine[]> = { single: [], cluster: [] };
    for (const which of ['single', 'cluster', 'cluster', 'single'] as const) rounds[which].push(await loadFleet(opts, targets[which].name, targets[which].env));
    return { single: meanLine(rounds.single), cluster: meanLine(rounds.cluster), masters };
  } finally {
    await cluster.stop();
  }
}

/** The rounds of one transport as one line: throughput and latency percentiles averaged, requests and errors summed. */
function meanLine(lines: TransportLine[]): TransportLine {
  const mean = (loads: LoadResult[]): LoadResult => {
    const sum = (f: (l: LoadResult) => number) => loads.reduce((total, l) => total + f(l), 0);
    const avg = (f: (l: LoadResult) => number) => sum(f) / loads.length;
    return { ...loads[0]!, rps: avg((l) => l.rps), p50: avg((l) => l.p50), p90: avg((l) => l.p90), p99: avg((l) => l.p99), max: Math.max(...loads.map((l) => l.max)), requests: sum((l) => l.requests), non2xx: sum((l) => l.non2xx), socketErrors: sum((l) => l.socketErrors) };
  };
  const twoLoads = TRANSPORT_MODELS.map((_, i) => mean(lines.map((l) => l.twoModels.loads[i]!)));
  return {
    transport: `${lines[0]!.transport}, mean of ${lines.length}`,
    oneModel: mean(lines.map((l) => l.oneModel)),
    twoModels: { rps: twoLoads.reduce((sum, l) => sum + l.rps, 0), loads: twoLoads },
  };
}

async function loadFleet(opts: TransportOptions, transport: string, target: Record<string, string>): Promise<TransportLine> {
  const prefix = `bench-${randomUUID().slice(0, 8)}:`;
  const common = { ...target, REDIS_PREFIX: prefix, MLFLOW_TRACKING_URI: opts.trackingUri, MODEL_NAME: TRANSPORT_MODELS[0] };
  const port = await freePort();
  const processes = [
    BenchProcess.start(`transport api (${transport})`, 'api/server', { ...common, PORT: String(port), MAX_QUEUE_LENGTH: '10000' }),
    ...Array.from({ length: opts.workers }, (_, i) =>
      BenchProcess.start(`transport worker ${i + 1} (${transport})`, 'workers/inference-worker', {
        ...common,
        SERVED_MODELS: TRANSPORT_MODELS.join(','),
        MODEL_ALIAS: ALIAS,
        WORKER_ID: `${prefix}w${i + 1}`,
        METRICS_PORT: '0',
        MODEL_CACHE_DIR: join(opts.workDir, 'models'),
      }),
    ),
  ];
  const base = `http://127.0.0.1:${port}`;
  const url = (model: string) => `${base}/models/${model}/predict`;
  try {
    await waitUntil(
      `${opts.workers} workers serving both bench models (${transport})`,
      async () => {
        const listed = (await (await fetch(`${base}/models`)).json()) as { models: Array<{ name: string; workers: unknown[] }> };
        return TRANSPORT_MODELS.every((name) => listed.models.find((m) => m.name === name)?.workers.length === opts.workers);
      },
      120_000,
      processes,
    );
    await Promise.all(TRANSPORT_MODELS.map((m) => runWrk(url(m), opts.bodies, { connections: 16, seconds: 2, threads: 1 }))); // warm-up
    const oneModel = await runWrk(url(TRANSPORT_MODELS[0]), opts.bodies, { connections: 64, seconds: opts.seconds, threads: 2 });
    const loads = await Promise.all(TRANSPORT_MODELS.map((m) => runWrk(url(m), opts.bodies, { connections: 32, seconds: opts.seconds, threads: 1 })));
    const line = { transport, oneModel, twoModels: { rps: loads.reduce((sum, l) => sum + l.rps, 0), loads } };
    const errors = oneModel.non2xx + oneModel.socketErrors + loads.reduce((sum, l) => sum + l.non2xx + l.socketErrors, 0);
    opts.log(`  ${transport}: one model ${oneModel.rps.toFixed(0)} req/s (p99 ${oneModel.p99.toFixed(1)} ms), two models ${line.twoModels.rps.toFixed(0)} req/s (${loads.map((l) => l.rps.toFixed(0)).join(' + ')}), errors ${errors}`);
    return line;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
  }
}
