import type { MlflowClient } from '../../../lib/mlflow/client';
import type { RegisteredVersion } from '../../../lib/lifecycle/types';
import type { TestModel } from '../../support/test-model';

/**
 * Registers `model` as the next version of `modelName` in the real MLflow
 * registry, the way the pipeline does: the ONNX file in a run's proxied
 * artifacts, a version tagged with its sha256 and artifact URI.
 */
export async function registerTestModel(mlflow: MlflowClient, modelName: string, model: TestModel, alias?: string): Promise<RegisteredVersion> {
  const experimentId = await mlflow.getOrCreateExperiment(modelName);
  const run = await mlflow.createRun(experimentId, 'serving-test', {});
  const onnxUri = `${run.info.artifact_uri}/model/model.onnx`;
  await mlflow.uploadArtifact(onnxUri, model.bytes);
  await mlflow.ensureRegisteredModel(modelName);
  const mv = await mlflow.createModelVersion(modelName, `${run.info.artifact_uri}/model`, run.info.run_id, {
    'lifecycle.sha256': model.sha256,
    'lifecycle.onnx_uri': onnxUri,
  });
  if (alias) await mlflow.setAlias(modelName, alias, mv.version);
  return { name: modelName, version: mv.version };
}
