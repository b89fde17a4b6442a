import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { modelRefOf, type MlflowClient } from '../lib/mlflow/client';
import { sha256Hex } from '../lib/model/sha256';
import { readModelMetadata } from '../lib/model/metadata';
import { preprocessImage } from '../lib/model/preprocess';
import { materialize } from '../lib/dataset/materialize';
import { EVAL_METRIC } from './evaluation-keys';
import type { DatasetDeps } from '../lib/dataset/checkout';
import { DatasetError } from '../lib/dataset/errors';
import { PermanentError } from '../lib/lifecycle/errors';
import type { RegisteredVersion, ResolvedDataset } from '../lib/lifecycle/types';
import { ModelRunner, createOrtSession } from '../lib/model/model-runner';

export interface EvaluateInput {
  model: RegisteredVersion;
  /** The candidate's dataset, pinned: the champion is measured on its test split. */
  dataset: ResolvedDataset;
  /** The candidate's test split digest; the materialised split must have it. */
  splitDigest: string;
}

export interface EvaluationResult {
  version: string;
  splitDigest: string;
  /** Top-1 accuracy on the split (the `test_accuracy` the trainer reports for its own model). */
  test_accuracy: number;
  samples: number;
}

export interface EvaluationDeps {
  mlflow: MlflowClient;
  datasets: DatasetDeps;
  heartbeat: (details: unknown) => void;
  batchSize?: number;
  maxInputPixels?: number;
}


/**
 * Measures a registered version on a dataset's held-out split the way serving
 * runs it: the registered ONNX file (sha256-verified), the serving
 * preprocessing from lib/model, onnxruntime-node. The promotion gate uses it
 * when the champion's recorded metric comes from another split. The number is
 * recorded on the version's run (EVAL_METRIC), so the next gate on the same split reuses it.
 */
export async function evaluateVersion(input: EvaluateInput, deps: EvaluationDeps): Promise<EvaluationResult> {
  const mv = await deps.mlflow.getModelVersion(input.model.name, input.model.version);
  const ref = modelRefOf(mv);
  const onnx = await deps.mlflow.downloadArtifact(ref.artifactUri);
  if (sha256Hex(onnx) !== ref.sha256) throw new PermanentError(`v${ref.version}: the ONNX file does not match its recorded sha256`, 'CHECKSUM_MISMATCH');
  const metadata = readModelMetadata(onnx);
  const dataset = await materialize(input.dataset, { ...deps.datasets, onProgress: (message) => deps.heartbeat({ phase: 'dataset', message }) });
  if (dataset.splits.test !== input.splitDigest) {
    throw new DatasetError(`test split of ${dataset.name}@${dataset.commit.slice(0, 12)} is ${dataset.splits.test}, expected ${input.splitDigest}`, 'DATASET_DIGEST_MISMATCH');
  }
  const samples = await testSamples(dataset.dir);
  const runner = new ModelRunner(await createOrtSession(onnx, { intraOpNumThreads: 1 }), metadata);
  try {
    let correct = 0;
    const batchSize = deps.batchSize ?? 256;
    for (let i = 0; i < samples.length; i += batchSize) {
      const batch = samples.slice(i, i + batchSize);
      const examples = await Promise.all(
        batch.map(async (s) => preprocessImage(await readFile(s.file), metadata, { maxInputPixels: deps.maxInputPixels ?? 4096 * 4096 })),
      );
      const predictions = await runner.predict(examples, 1);
      predictions.forEach((p, j) => {
        if (p[0]?.label === batch[j]!.label) correct += 1;
      });
      deps.heartbeat({ phase: 'evaluating', version: ref.version, done: Math.min(i + batchSize, samples.length), of: samples.length });
    }
    const accuracy = samples.length ? correct / samples.length : NaN;
    const key = EVAL_METRIC.key(input.splitDigest);
    if (mv.run_id) await deps.mlflow.logBatch(mv.run_id, { metrics: [{ key, value: accuracy, timestamp: Date.now(), step: 0 }] });
    // A version without a run (registered by hand) keeps it where older releases did.
    else await deps.mlflow.setModelVersionTag(ref.name, ref.version, `lifecycle.eval.${input.splitDigest}.test_accuracy`, String(accuracy));
    return { version: ref.version, splitDigest: input.splitDigest, test_accuracy: accuracy, samples: samples.length };
  } finally {
    await runner.release();
  }
}

/** The test split's images with their true label (dvc/README.md: test/<NN>/..., labels.json names class NN). */
async function testSamples(dir: string): Promise<{ file: string; label: string }[]> {
  const classes = (await readdir(join(dir, 'test'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  const labels = existsSync(join(dir, 'labels.json')) ? (JSON.parse(await readFile(join(dir, 'labels.json'), 'utf8')) as string[]) : classes;
  const samples: { file: string; label: string }[] = [];
  for (const [i, folder] of classes.entries()) {
    const label = labels[/^\d+$/.test(folder) ? Number(folder) : i] ?? folder;
    for (const name of (await readdir(join(dir, 'test', folder))).sort()) {
      if (!name.startsWith('.')) samples.push({ file: join(dir, 'test', folder, name), label });
    }
  }
  return samples;
}
