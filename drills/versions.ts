/**
 * Model versions the drills register: a copy of the champion (its ONNX file and tags, so the
 * gate ties and a rollout needs --force), or a distinct file whose bytes the drill changes in
 * the artifact store after registration. Every one is tagged `lifecycle.drill`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ModelRef } from '../lib/fleet/protocol';
import { VERSION_TAGS, modelRefOf, tagsOf, type ModelVersion } from '../lib/mlflow/client';
import { waitFor } from './drill';
import { ROOT, type Stack } from './stack';

/** Tags of the champion that describe its file, data and metrics (not its promotion history). */
function copiedTags(mv: ModelVersion): Record<string, string> {
  const history = /^lifecycle\.(outcome|outcome_reason|previous_champion|gate\.|eval\.|workflow_id)/;
  return Object.fromEntries(Object.entries(tagsOf(mv)).filter(([k]) => k.startsWith('lifecycle.') && !history.test(k)));
}

async function champion(stack: Stack): Promise<ModelVersion> {
  const mv = await stack.mlflow.getModelVersionByAlias(stack.modelName, 'champion');
  if (!mv) throw new Error(`${stack.modelName} has no champion`);
  return mv;
}

async function register(stack: Stack, from: ModelVersion, tags: Record<string, string>): Promise<ModelRef> {
  // Same MLflow-native model as the champion (MLflow 3 requires the logged model's id with a models:/ source).
  const modelId = tagsOf(from)['lifecycle.model_id'];
  const mv = await stack.mlflow.createModelVersion(stack.modelName, from.source, from.run_id ?? '', tags, modelId);
  const ready = await waitFor(async () => (await stack.mlflow.getModelVersion(stack.modelName, mv.version)).status === 'READY', 30_000, 250);
  if (ready === null) throw new Error(`v${mv.version} did not become READY in the registry`);
  return modelRefOf(await stack.mlflow.getModelVersion(stack.modelName, mv.version));
}

/** A new version with the champion's ONNX file and tags (same weights, same test accuracy). */
export async function registerChampionCopy(stack: Stack, drill: string): Promise<ModelRef> {
  const mv = await champion(stack);
  return register(stack, mv, { ...copiedTags(mv), 'lifecycle.drill': drill, 'lifecycle.drill.copy_of': mv.version });
}

/**
 * A version whose file the drill then corrupts in the artifact store: the champion's model plus
 * one unknown protobuf field (a valid ONNX file with a hash no worker has cached), registered with
 * that file's sha256; then bytes in the middle of the stored file are flipped. Returns the ref
 * (with the registered, correct sha256) and the path of the corrupted file.
 */
export async function registerTamperedVersion(stack: Stack, drill: string): Promise<{ ref: ModelRef; file: string }> {
  const original = await stack.mlflow.downloadArtifact(modelRefOf(await champion(stack)).artifactUri);
  const marker = Buffer.from(`lifecycle drill ${drill} ${Date.now()}`);
  // Field 1000, wire type 2 (length-delimited): parsers skip fields they do not know.
  const bytes = Buffer.concat([original, varint((1000 << 3) | 2), varint(marker.length), marker]);
  const { ref, file } = await registerFile(stack, drill, bytes, { 'lifecycle.drill.corrupted': 'the stored file was changed after registration on purpose' });
  const stored = readFileSync(file);
  const middle = Math.floor(stored.length / 2);
  for (let i = middle; i < middle + 64 && i < stored.length; i++) stored[i] = stored[i]! ^ 0xff;
  writeFileSync(file, stored);
  return { ref, file };
}

/**
 * A version that disagrees with the champion: an untrained classifier (a linear layer with random
 * weights, the champion's labels and input, golden examples computed from its own weights, built by
 * tests/support/make_test_model.py), registered the way the pipeline registers a model (its sha256
 * and ONNX URI on the version). Workers load it like any other version; its answers are near chance.
 */
export async function registerUntrainedVersion(stack: Stack, drill: string): Promise<ModelRef> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-drill-'));
  try {
    const out = join(dir, 'model.onnx');
    const python = join(ROOT, '.venv', 'bin', 'python');
    const made = spawnSync(python, [join(ROOT, 'tests', 'support', 'make_test_model.py'), out, '--seed', String(Date.now() % 100_000)], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`building the untrained model failed (${python}): ${made.stderr || made.error?.message}`);
    const { ref } = await registerFile(stack, drill, readFileSync(out), { 'lifecycle.drill.untrained': 'random weights: answers disagree with the champion on purpose' });
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Uploads `bytes` to the artifact store and registers them as a new version (the champion's run and tags, this file's sha256 and URI). */
async function registerFile(stack: Stack, drill: string, bytes: Buffer, extraTags: Record<string, string>): Promise<{ ref: ModelRef; file: string }> {
  const mv = await champion(stack);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const relative = `drills/${drill}-${Date.now()}/model.onnx`;
  const artifactUri = `mlflow-artifacts:/${relative}`;
  await stack.mlflow.uploadArtifact(artifactUri, bytes);
  const file = join(stack.stateDir, 'mlflow', 'artifacts', relative);
  let stored: Buffer;
  try {
    stored = readFileSync(file);
  } catch {
    throw new Error(`the artifact store is not ${join(stack.stateDir, 'mlflow', 'artifacts')} (MLflow stores ${artifactUri} elsewhere): this drill needs a local file`);
  }
  if (createHash('sha256').update(stored).digest('hex') !== sha256) throw new Error(`${file} does not hold the uploaded bytes`);
  const ref = await register(stack, mv, { ...copiedTags(mv), [VERSION_TAGS.sha256]: sha256, [VERSION_TAGS.onnxUri]: artifactUri, 'lifecycle.drill': drill, ...extraTags });
  return { ref, file };
}

/** Removes a version from the registry (only the drills' own, never a champion). */
export async function deleteVersion(stack: Stack, version: string): Promise<void> {
  const res = await fetch(`${stack.env.MLFLOW_TRACKING_URI}/api/2.0/mlflow/model-versions/delete`, {
    method: 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: stack.modelName, version }),
  });
  if (!res.ok) throw new Error(`deleting v${version}: HTTP ${res.status} ${await res.text()}`);
}

/** Version numbers of the model, newest first. */
export async function versionNumbers(stack: Stack): Promise<string[]> {
  return (await stack.mlflow.searchAllModelVersions(`name='${stack.modelName}'`)).map((v) => v.version);
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return Buffer.from(out);
}
