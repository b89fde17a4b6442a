/**
 * `npm run bench:memory`: how an inference worker's memory grows with the number of models it hosts.
 *
 *   npm run bench:memory -- [--models 1,2,4,8] [--model fashion-mnist-classifier]
 *
 * Registers copies of a served model (by default the default model's champion) as
 * `lifecycle-bench-memory-<i>` in MLflow (alias `bench`, so no stack worker picks them up), starts
 * one inference worker process per count serving that many of them, waits until all are loaded,
 * and reads its resident memory (RSS) and V8 heap from its own /metrics.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { MlflowClient } from '../lib/mlflow/client';
import { sha256Hex } from '../lib/model/sha256';
import { servedModelBytes } from './fashion';
import { freePort } from '../lib/process/free-port';
import { BenchProcess, waitUntil } from './processes';

const ALIAS = 'bench';

async function register(mlflow: MlflowClient, name: string, bytes: Buffer): Promise<void> {
  const sha256 = sha256Hex(bytes);
  const existing = (await mlflow.searchModelVersions(`name='${name}'`).catch(() => [])).find((mv) => (mv.tags ?? []).some((t) => t.key === 'lifecycle.sha256' && t.value === sha256));
  let version = existing?.version;
  if (!version) {
    const experimentId = await mlflow.getOrCreateExperiment('lifecycle-bench-memory');
    const run = await mlflow.createRun(experimentId, name, { 'lifecycle.bench': 'true' });
    const onnxUri = `${run.info.artifact_uri}/model/model.onnx`;
    await mlflow.uploadArtifact(onnxUri, bytes);
    await mlflow.ensureRegisteredModel(name, 'Benchmark copy (npm run bench:memory)');
    version = (await mlflow.createModelVersion(name, `${run.info.artifact_uri}/model`, run.info.run_id, { 'lifecycle.sha256': sha256, 'lifecycle.onnx_uri': onnxUri })).version;
  }
  await mlflow.setAlias(name, ALIAS, version);
}

function metric(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(' ').pop()) : NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { models: { type: 'string', default: '1,2,4,8' }, model: { type: 'string', default: process.env.MODEL_NAME ?? 'fashion-mnist-classifier' } } });
  const counts = values.models.split(',').map(Number);
  const trackingUri = process.env.MLFLOW_TRACKING_URI ?? 'http://127.0.0.1:5000';
  const mlflow = new MlflowClient({ trackingUri });
  const { bytes } = await servedModelBytes(mlflow, values.model);
  const names = Array.from({ length: Math.max(...counts) }, (_, i) => `lifecycle-bench-memory-${i + 1}`);
  for (const name of names) await register(mlflow, name, bytes);
  const cache = mkdtempSync(join(tmpdir(), 'lifecycle-bench-memory-'));
  const rows: Array<Record<string, number | string>> = [];
  try {
    for (const count of counts) {
      const port = await freePort();
      const served = names.slice(0, count);
      const worker = BenchProcess.start(`worker with ${count} model(s)`, 'workers/inference-worker', {
        REDIS_PREFIX: `bench-memory-${randomUUID().slice(0, 8)}:`,
        MLFLOW_TRACKING_URI: trackingUri,
        SERVED_MODELS: served.join(','),
        MODEL_ALIAS: ALIAS,
        METRICS_PORT: String(port),
        MODEL_CACHE_DIR: cache,
        MAX_MODELS_PER_WORKER: String(count),
      });
      try {
        const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        await waitUntil(`${count} model(s) loaded`, async () => (await metrics()).split('\n').filter((l) => l.startsWith('lifecycle_inference_model_info{')).length === count, 120_000, [worker]);
        await new Promise((r) => setTimeout(r, 1500)); // let the heap settle after the loads
        const text = await metrics();
        rows.push({
          models: count,
          'RSS MB': +(metric(text, 'process_resident_memory_bytes') / 1e6).toFixed(1),
          'V8 heap used MB': +(metric(text, 'nodejs_heap_size_used_bytes') / 1e6).toFixed(1),
          'model file MB': +((bytes.length * count) / 1e6).toFixed(2),
        });
      } finally {
        await worker.stop();
      }
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
  console.log(`inference worker memory by number of hosted models (each a copy of ${values.model}, ${(bytes.length / 1e6).toFixed(2)} MB ONNX)`);
  console.table(rows);
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const perModel = ((last['RSS MB'] as number) - (first['RSS MB'] as number)) / ((last.models as number) - (first.models as number));
  console.log(`RSS grows by about ${perModel.toFixed(1)} MB per additional model`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
