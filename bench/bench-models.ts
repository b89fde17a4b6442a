import type { MlflowClient } from '../lib/mlflow/client';
import { sha256Hex } from '../lib/model/sha256';

/**
 * Registers `bytes` as a version of `name` (once: a version with the same sha256 is reused) and points
 * `alias` at it. Benchmark models use their own alias, never `champion`, so the stack's workers
 * (SERVED_MODELS=*) do not pick them up.
 */
export async function registerBenchModel(mlflow: MlflowClient, opts: { name: string; alias: string; bytes: Buffer; description: string; log: (line: string) => void }): Promise<string> {
  const { name, alias, bytes } = opts;
  const sha256 = sha256Hex(bytes);
  const existing = (await mlflow.searchModelVersions(`name='${name}'`).catch(() => [])).find((mv) => (mv.tags ?? []).some((t) => t.key === 'lifecycle.sha256' && t.value === sha256));
  let version = existing?.version;
  if (!version) {
    const experimentId = await mlflow.getOrCreateExperiment(name);
    const run = await mlflow.createRun(experimentId, `bench-${name}`, { 'lifecycle.bench': 'true' });
    const onnxUri = `${run.info.artifact_uri}/model/model.onnx`;
    opts.log(`uploading the ${(bytes.length / 1e6).toFixed(1)} MB benchmark model ${name} to MLflow`);
    await mlflow.uploadArtifact(onnxUri, bytes);
    await mlflow.ensureRegisteredModel(name, opts.description);
    version = (await mlflow.createModelVersion(name, `${run.info.artifact_uri}/model`, run.info.run_id, { 'lifecycle.sha256': sha256, 'lifecycle.onnx_uri': onnxUri })).version;
  }
  await mlflow.setAlias(name, alias, version);
  return version;
}
