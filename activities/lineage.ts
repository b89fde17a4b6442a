import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Metric, MlflowClient } from '../lib/mlflow/client';
import type { RunInfo, SplitDigests } from '../lib/lifecycle/types';
import type { MaterializedDataset } from '../lib/dataset/materialize';

/** MLflow metric and tag keys allow only these characters. */
export function metricKey(key: string): string {
  return key.replace(/[^A-Za-z0-9_\-. /]/g, '_');
}

/** MLflow stores params as strings; None mirrors what `mlflow.log_params` writes for Python's None. */
export function paramValue(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * Logs the params the trainer actually used (its `start` event: defaults and
 * seed resolved) as the run's params. MLflow refuses to change a logged param,
 * and a retried attempt reports the same resolved values, so this is idempotent;
 * what the caller asked for is a tag (`lifecycle.requested_params`) set with the run.
 */
export async function logResolvedParams(mlflow: MlflowClient, runId: string, params: Record<string, unknown>): Promise<void> {
  const entries = Object.entries(params).map(([k, v]) => [k, paramValue(v)] as const);
  for (let i = 0; i < entries.length; i += 100) {
    await mlflow.logBatch(runId, { params: Object.fromEntries(entries.slice(i, i + 100)) });
  }
}

/** One epoch's numbers as step metrics (step = epoch). */
export function epochMetrics(event: Record<string, unknown>, timestamp = Date.now()): Metric[] {
  const step = typeof event.epoch === 'number' ? event.epoch : 0;
  return Object.entries(event)
    .filter(([k, v]) => typeof v === 'number' && !['epoch', 'epochs', 'step', 'elapsed_s', 'steps_per_epoch'].includes(k))
    .map(([k, v]) => ({ key: metricKey(k === 'loss' ? 'train_loss' : k), value: v as number, timestamp, step }));
}

/** What the trainer wrote into its output folder (trainer/README.md). */
export interface TrainerResults {
  metrics: Record<string, number>;
  perClass: Record<string, number>;
  trainerVersion: string;
  runInfo: Record<string, unknown>;
}

export async function readTrainerResults(dir: string): Promise<TrainerResults> {
  const raw = JSON.parse(await readFile(join(dir, 'metrics.json'), 'utf8')) as Record<string, unknown>;
  const runInfo = existsSync(join(dir, 'run_info.json')) ? (JSON.parse(await readFile(join(dir, 'run_info.json'), 'utf8')) as Record<string, unknown>) : {};
  const metrics = Object.fromEntries(Object.entries(raw).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1])));
  let perClass = isNumberRecord(raw.per_class_test_accuracy) ? raw.per_class_test_accuracy : {};
  if (Object.keys(perClass).length === 0 && existsSync(join(dir, 'confusion_matrix.json'))) {
    // Older trainers put it only in the confusion matrix file.
    const cm = JSON.parse(await readFile(join(dir, 'confusion_matrix.json'), 'utf8')) as { labels?: string[]; per_class_accuracy?: number[] };
    const pairs: [string, number][] = (cm.labels ?? []).map((label, i) => [label, cm.per_class_accuracy?.[i] ?? NaN]);
    perClass = Object.fromEntries(pairs.filter(([, v]) => Number.isFinite(v)));
  }
  const trainerVersion = typeof raw.trainer_version === 'string' ? raw.trainer_version : typeof runInfo.trainer === 'string' ? runInfo.trainer : 'unknown';
  return { metrics, perClass, trainerVersion, runInfo };
}

/** Final metrics, per-class test accuracy, and the lineage tags a reproduction needs. */
export async function logTrainingLineage(
  mlflow: MlflowClient,
  run: RunInfo,
  results: TrainerResults,
  dataset: MaterializedDataset,
  extra: { durationSeconds: number; resumedFromEpoch: number | null; attempt: number; timings?: Record<string, number> },
): Promise<void> {
  const timestamp = Date.now();
  const metrics: Metric[] = [
    ...Object.entries(results.metrics).map(([key, value]) => ({ key: metricKey(key), value, timestamp })),
    ...Object.entries(results.perClass).map(([label, value]) => ({ key: metricKey(`test_accuracy_per_class/${label}`), value, timestamp })),
    { key: 'training_duration_seconds', value: extra.durationSeconds, timestamp },
    // Where an attempt's time went (dataset materialisation vs the trainer process): "time outside training".
    ...Object.entries(extra.timings ?? {}).map(([key, value]) => ({ key, value, timestamp })),
  ];
  const info = results.runInfo;
  const tags: Record<string, string> = {
    'lifecycle.trainer': results.trainerVersion,
    ...splitTags(dataset.splits),
    'lifecycle.training.attempt': String(extra.attempt),
    'lifecycle.training.resumed_from_epoch': extra.resumedFromEpoch === null ? 'none' : String(extra.resumedFromEpoch),
  };
  if (info.normalization !== undefined) tags['lifecycle.normalization'] = JSON.stringify(info.normalization);
  if (info.input !== undefined) tags['lifecycle.input'] = JSON.stringify(info.input);
  for (const [name, version] of Object.entries(environmentOf(info))) tags[metricKey(`lifecycle.env.${name}`)] = version;
  for (let i = 0; i < metrics.length; i += 500) {
    await mlflow.logBatch(run.runId, { metrics: metrics.slice(i, i + 500), tags: i === 0 ? tags : {} });
  }
  // The held-out split as its own dataset input (context "testing"): MLflow digests hold at most 36 characters.
  await mlflow.logInputs(run.runId, [
    {
      dataset: {
        name: `${dataset.name}/test`,
        digest: dataset.splits.test.slice(0, 32),
        source_type: 'dvc',
        source: JSON.stringify({ repo: dataset.repo, path: `${dataset.path}/test`, commit: dataset.commit }),
        profile: JSON.stringify({ sha256: dataset.splits.test }),
      },
      tags: [{ key: 'mlflow.data.context', value: 'testing' }],
    },
  ]);
}

export function splitTags(splits: SplitDigests): Record<string, string> {
  return { 'lifecycle.dataset.train_digest': splits.train, 'lifecycle.dataset.test_digest': splits.test };
}

/** Library versions from run_info.json: `environment` {python, torch, onnx, numpy, ...}, or the older top-level torch/numpy keys. */
function environmentOf(info: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  const nested = info.environment;
  if (nested && typeof nested === 'object') {
    for (const [k, v] of Object.entries(nested as Record<string, unknown>)) if (typeof v === 'string' || typeof v === 'number') env[k] = String(v);
  }
  for (const k of ['python', 'torch', 'onnx', 'numpy']) if (typeof info[k] === 'string' && !env[k]) env[k] = info[k];
  return env;
}

function isNumberRecord(v: unknown): v is Record<string, number> {
  return !!v && typeof v === 'object' && Object.values(v).every((x) => typeof x === 'number');
}

/** Uploads the evaluation files (confusion matrix image and JSON, metrics, history, run info, drift reference) under `evaluation/`. */
export async function uploadTrainingArtifacts(mlflow: MlflowClient, run: RunInfo, dir: string): Promise<void> {
  for (const name of ['confusion_matrix.png', 'confusion_matrix.json', 'metrics.json', 'history.json', 'run_info.json', 'drift_reference.json']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    await mlflow.uploadArtifact(`${run.artifactUri}/evaluation/${name}`, await readFile(file), name.endsWith('.png') ? 'image/png' : 'application/json');
  }
}
