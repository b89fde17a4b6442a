import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MlflowClient, Metric } from '../lib/mlflow/client';
import { runCommand } from '../lib/process/run';
import { sha256Hex } from '../lib/model/sha256';
import type { DatasetRef, RunInfo, TrainedModel, TrainingParams } from '../lib/lifecycle/types';
import { materializeDataset, type DatasetDeps } from './dataset';
import { parseProgressLine, type TrainerEvent } from './trainer-progress';

export interface TrainingDeps {
  python: string;
  trainerScript: string;
  workDir: string;
  mlflow: MlflowClient;
  datasets: DatasetDeps;
  /** Temporal heartbeat (or a test's recorder). */
  heartbeat: (details: unknown) => void;
  signal?: AbortSignal;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface TrainModelInput {
  dataset: DatasetRef;
  params: TrainingParams;
  run: RunInfo;
}

/** Exit code the trainer uses for bad input (argparse's usage error): retrying cannot help. */
export const TRAINER_USAGE_EXIT_CODE = 2;

/**
 * Runs the trainer process on a dataset version and records everything in the
 * MLflow run: step metrics as progress arrives, final metrics, and the ONNX
 * file plus evaluation artifacts through MLflow's proxied artifact store.
 */
export async function trainModel(input: TrainModelInput, deps: TrainingDeps): Promise<TrainedModel> {
  const started = Date.now();
  const dataset = await materializeDataset(input.dataset, { ...deps.datasets, onProgress: (m) => deps.heartbeat({ phase: 'dataset', message: m }) });
  const out = await mkdtemp(join(deps.workDir, 'train-'));
  try {
    const paramsFile = join(out, 'params.json');
    await writeFile(paramsFile, JSON.stringify(input.params));
    const pending: Promise<void>[] = [];
    let last: TrainerEvent | undefined;
    await runCommand(deps.python, [deps.trainerScript, '--data', dataset.dir, '--params', paramsFile, '--out', join(out, 'model')], {
      signal: deps.signal,
      env: { ...process.env, PYTHONUNBUFFERED: '1' },
      onStdoutLine: (line) => {
        const event = parseProgressLine(line);
        if (!event) return;
        last = event;
        deps.heartbeat({ phase: 'training', ...event });
        if (event.event === 'epoch') {
          deps.log?.('epoch finished', { ...event });
          pending.push(deps.mlflow.logBatch(input.run.runId, { metrics: epochMetrics(event) }));
        }
      },
    });
    await Promise.all(pending);
    return await uploadResults(join(out, 'model'), input.run, deps, last, started);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

function epochMetrics(event: TrainerEvent): Metric[] {
  const timestamp = Date.now();
  const step = event.epoch ?? 0;
  return Object.entries(event)
    .filter(([k, v]) => typeof v === 'number' && !['epoch', 'epochs', 'step', 'elapsed_s'].includes(k))
    .map(([k, v]) => ({ key: k === 'loss' ? 'train_loss' : k, value: v as number, timestamp, step }));
}

async function uploadResults(dir: string, run: RunInfo, deps: TrainingDeps, last: TrainerEvent | undefined, started: number): Promise<TrainedModel> {
  const onnx = await readFile(join(dir, 'model.onnx'));
  const sha256 = sha256Hex(onnx);
  const metrics = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  const numeric = Object.fromEntries(Object.entries(metrics).filter((e): e is [string, number] => typeof e[1] === 'number'));
  const onnxUri = `${run.artifactUri}/model/model.onnx`;
  deps.heartbeat({ phase: 'uploading', bytes: onnx.length });
  await deps.mlflow.uploadArtifact(onnxUri, onnx);
  for (const name of ['metrics.json', 'confusion_matrix.png', 'confusion_matrix.json']) {
    const file = join(dir, name);
    if (existsSync(file)) await deps.mlflow.uploadArtifact(`${run.artifactUri}/evaluation/${name}`, await readFile(file), name.endsWith('.png') ? 'image/png' : 'application/json');
  }
  const durationSeconds = (Date.now() - started) / 1000;
  const trainerVersion = typeof metrics.trainer_version === 'string' ? metrics.trainer_version : typeof last?.trainer_version === 'string' ? last.trainer_version : 'unknown';
  const timestamp = Date.now();
  await deps.mlflow.logBatch(run.runId, {
    metrics: [...Object.entries(numeric).map(([key, value]) => ({ key, value, timestamp })), { key: 'training_duration_seconds', value: durationSeconds, timestamp }],
    tags: { 'lifecycle.sha256': sha256, 'lifecycle.trainer': trainerVersion },
  });
  return { sha256, onnxUri, metrics: numeric, trainerVersion, durationSeconds };
}
