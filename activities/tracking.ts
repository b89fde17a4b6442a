import type { MlflowClient } from '../lib/mlflow/client';
import type { ResolvedDataset, RunInfo, TrainingParams } from '../lib/lifecycle/types';

export interface StartRunInput {
  experimentName: string;
  /** The workflow id: a retried activity finds the run it already created instead of making a second one. */
  idempotencyKey: string;
  runName: string;
  params: TrainingParams;
  dataset: ResolvedDataset;
  gitCommit: string;
}

const IDEMPOTENCY_TAG = 'lifecycle.workflow_id';

/** Creates (or finds) the MLflow run of one pipeline execution and records its inputs. */
export async function startRun(mlflow: MlflowClient, input: StartRunInput): Promise<RunInfo> {
  const experimentId = await mlflow.getOrCreateExperiment(input.experimentName);
  const existing = await mlflow.searchRuns([experimentId], `tags.\`${IDEMPOTENCY_TAG}\` = '${escapeFilter(input.idempotencyKey)}'`, 1);
  const run =
    existing[0] ??
    (await mlflow.createRun(experimentId, input.runName, {
      [IDEMPOTENCY_TAG]: input.idempotencyKey,
      'mlflow.source.git.commit': input.gitCommit,
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': 'temporal:trainAndPromote',
      'lifecycle.dataset.commit': input.dataset.commit,
    }));
  const runId = run.info.run_id;
  // log-batch and log-inputs are idempotent for identical values, so a retry may safely redo them.
  await mlflow.logBatch(runId, { params: stringify(input.params) });
  await mlflow.logInputs(runId, [
    {
      dataset: {
        name: input.dataset.name,
        digest: input.dataset.digest,
        source_type: 'dvc',
        source: JSON.stringify({ repo: input.dataset.repo, path: input.dataset.path, rev: input.dataset.rev, commit: input.dataset.commit }),
        profile: JSON.stringify({ num_files: input.dataset.nfiles, size_bytes: input.dataset.sizeBytes }),
      },
      tags: [{ key: 'mlflow.data.context', value: 'training' }],
    },
  ]);
  return { runId, experimentId, artifactUri: run.info.artifact_uri };
}

export async function finishRun(mlflow: MlflowClient, runId: string, status: 'FINISHED' | 'FAILED'): Promise<void> {
  await mlflow.setTerminated(runId, status);
}

function stringify(params: TrainingParams): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
}

/** MLflow filter strings quote with single quotes. */
export function escapeFilter(value: string): string {
  return value.replace(/'/g, "\\'");
}
