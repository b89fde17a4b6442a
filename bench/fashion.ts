import type { MlflowClient } from '../lib/mlflow/client';
import { readModelMetadata } from '../lib/model/metadata';
import { sha256Hex } from '../lib/model/sha256';
import { measureInProcess, type InProcessResult } from './in-process';
import { freePort } from '../lib/process/free-port';
import { BenchProcess, waitUntil } from './processes';
import type { Sample } from './samples';
import { runWrk, type LoadResult } from './wrk';

export interface FashionResult {
  model: { name: string; version: string };
  inProcess: InProcessResult;
  levels: LoadResult[];
  /** Throughput at 64 connections over the in-process limit (goal >= 0.75). */
  ratioAt64: number | null;
}

export interface VariantResult {
  variant: string;
  env: Record<string, string>;
  load: LoadResult;
}

/** The served version of the default model, fetched and verified like a worker does. */
export async function servedModelBytes(mlflow: MlflowClient, modelName: string): Promise<{ version: string; bytes: Buffer }> {
  const ref = await mlflow.resolveModelRef(modelName, 'champion');
  if (!ref) throw new Error(`${modelName} has no champion: start the stack with \`make up\``);
  const bytes = await mlflow.downloadArtifact(ref.artifactUri);
  if (sha256Hex(bytes) !== ref.sha256) throw new Error(`${modelName} v${ref.version}: sha256 differs from the registry`);
  return { version: ref.version, bytes };
}

export async function benchFashion(opts: {
  url: string;
  mlflow: MlflowClient;
  modelName: string;
  samples: Sample[];
  connections: number[];
  seconds: number;
  log: (line: string) => void;
}): Promise<FashionResult> {
  const { version, bytes } = await servedModelBytes(opts.mlflow, opts.modelName);
  const uploads = opts.samples.map((s) => s.png);
  await measureInProcess(bytes, readModelMetadata(bytes), uploads, { images: 2000, maxBatch: 32 }); // warm-up
  const inProcess = await measureInProcess(bytes, readModelMetadata(bytes), uploads, { images: 20_000, maxBatch: 32 });
  opts.log(`in-process limit (decode + preprocessing + batched inference, one process): ${inProcess.rps.toFixed(0)} images/s`);
  const bodies = uploads.slice(0, 200);
  await runWrk(opts.url, bodies, { connections: 16, seconds: 2, threads: 2 }); // warm-up
  const levels: LoadResult[] = [];
  for (const connections of opts.connections) {
    levels.push(await runWrk(opts.url, bodies, { connections, seconds: opts.seconds, threads: connections > 1 ? 2 : 1 }));
    const l = levels.at(-1)!;
    opts.log(`  ${connections} connection(s): ${l.rps.toFixed(0)} req/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, errors ${l.non2xx + l.socketErrors}`);
  }
  const at64 = levels.find((l) => l.connections === 64);
  return { model: { name: opts.modelName, version }, inProcess, levels, ratioAt64: at64 ? at64.rps / inProcess.rps : null };
}

/**
 * Where decoding runs, and how libvips threads are set: the same 64-connection load on an extra
 * API instance of the running stack (same Redis prefix, same workers) started with each variant's
 * environment, one after another.
 */
export async function benchVariants(opts: {
  redisUrl: string;
  redisPrefix: string;
  modelName: string;
  samples: Sample[];
  seconds: number;
  variants: Array<{ variant: string; env: Record<string, string> }>;
  log: (line: string) => void;
}): Promise<VariantResult[]> {
  const results: VariantResult[] = [];
  for (const { variant, env } of opts.variants) {
    const port = await freePort();
    const api = BenchProcess.start(`api (${variant})`, 'api/server', { REDIS_URL: opts.redisUrl, REDIS_PREFIX: opts.redisPrefix, MODEL_NAME: opts.modelName, PORT: String(port), ...env });
    try {
      const url = `http://127.0.0.1:${port}`;
      await waitUntil(`the ${variant} API instance`, async () => (await fetch(`${url}/readyz`)).ok, 30_000, [api]);
      const bodies = opts.samples.slice(0, 200).map((s) => s.png);
      await runWrk(`${url}/predict`, bodies, { connections: 64, seconds: 2, threads: 2 });
      const load = await runWrk(`${url}/predict`, bodies, { connections: 64, seconds: opts.seconds, threads: 2 });
      results.push({ variant, env, load });
      opts.log(`  ${variant}: ${load.rps.toFixed(0)} req/s, p99 ${load.p99.toFixed(1)} ms`);
    } finally {
      await api.stop();
    }
  }
  return results;
}
