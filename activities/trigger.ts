import type { MlflowClient } from '../lib/mlflow/client';
import { VERSION_TAGS } from '../lib/mlflow/client';
import type { DatasetCheck } from '../lib/lifecycle/types';
import type { DatasetDeps } from '../lib/dataset/checkout';
import { inspectDataset } from './dataset';
import { escapeFilter } from './tracking';

export interface InspectDatasetsInput {
  modelName: string;
  repo?: string;
  paths: string[];
  rev: string;
}

/**
 * The data trigger's look at the repository: for each tracked DVC path, the
 * digest its pointer has at `rev`, whether the DVC remote already holds it
 * (a commit pushed before `dvc push` waits for the next check), and whether the
 * registry already has a version trained on it (which keeps the trigger
 * exactly-once even after Temporal forgot old workflow ids).
 */
export async function inspectDatasets(mlflow: MlflowClient, deps: DatasetDeps, input: InspectDatasetsInput): Promise<DatasetCheck[]> {
  const checks: DatasetCheck[] = [];
  // No paths given: watch the worker's default dataset (DATASET_PATH).
  for (const path of input.paths.length ? input.paths : [deps.defaultPath]) {
    const { dataset, complete } = await inspectDataset({ repo: input.repo, path, rev: input.rev }, deps);
    checks.push({ dataset, complete, alreadyTrained: await hasVersionFor(mlflow, input.modelName, dataset.digest) });
  }
  return checks;
}

async function hasVersionFor(mlflow: MlflowClient, modelName: string, digest: string): Promise<boolean> {
  if (!(await mlflow.getRegisteredModel(modelName))) return false;
  const filter = `name='${escapeFilter(modelName)}' and tags.\`${VERSION_TAGS.datasetDigest}\` = '${escapeFilter(digest)}'`;
  return (await mlflow.searchModelVersions(filter, 1)).length > 0;
}
