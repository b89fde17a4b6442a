import type { MlflowClient, Run } from '../lib/mlflow/client';
import type { ResolvedDataset, RunInfo, TrainingParams } from '../lib/lifecycle/types';

export interface StartRunInput {
  experimentName: string;
  workflowId: string;
  /** The workflow execution's run id: one MLflow run per execution, found again by a retried activity. */
  executionId: string;
  workflowType: string;
  runName: string;
  /** What the caller asked for; the resolved params are logged as params by the training activity. */
  requestedParams: TrainingParams;
  dataset: ResolvedDataset;
  gitCommit: string;
}

export const RUN_TAGS = {
  workflowId: 'lifecycle.workflow_id',
  executionId: 'lifecycle.workflow_execution_id',
  requestedParams: 'lifecycle.requested_params',
  failureReason: 'lifecycle.failure_reason',
} as const;

/**
 * Creates the MLflow run of one workflow execution, or finds the one a previous
 * attempt of this activity created. Keyed by workflow id AND execution id: a
 * new execution of the same workflow id (other params, other data) gets a new
 * run with its own artifact folder, so nothing of an earlier run, and nothing a
 * registered version points to, is ever written again.
 */
export async function startRun(mlflow: MlflowClient, input: StartRunInput): Promise<RunInfo> {
  const experimentId = await mlflow.getOrCreateExperiment(input.experimentName);
  const existing = await findExecutionRuns(mlflow, experimentId, input.workflowId, input.executionId);
  const { dataset } = input;
  const run =
    existing[0] ??
    (await mlflow.createRun(experimentId, input.runName, {
      [RUN_TAGS.workflowId]: input.workflowId,
      [RUN_TAGS.executionId]: input.executionId,
      [RUN_TAGS.requestedParams]: JSON.stringify(input.requestedParams),
      'mlflow.source.git.commit': input.gitCommit,
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': `temporal:${input.workflowType}`,
      'lifecycle.dataset.name': dataset.name,
      'lifecycle.dataset.repo': dataset.repo,
      'lifecycle.dataset.path': dataset.path,
      'lifecycle.dataset.rev': dataset.rev,
      'lifecycle.dataset.commit': dataset.commit,
      'lifecycle.dataset.digest': dataset.digest,
      'lifecycle.dataset.source': dataset.source,
    }));
  const runId = run.info.run_id;
  // log-inputs is idempotent for an identical dataset, so a retry may safely redo it.
  await mlflow.logInputs(runId, [
    {
      dataset: {
        name: dataset.name,
        digest: dataset.digest,
        source_type: 'dvc',
        source: JSON.stringify({ repo: dataset.repo, path: dataset.path, rev: dataset.rev, commit: dataset.commit }),
        profile: JSON.stringify({ num_files: dataset.nfiles, size_bytes: dataset.sizeBytes }),
      },
      tags: [{ key: 'mlflow.data.context', value: 'training' }],
    },
  ]);
  return { runId, experimentId, artifactUri: run.info.artifact_uri };
}

export async function findExecutionRuns(mlflow: MlflowClient, experimentId: string, workflowId: string, executionId: string): Promise<Run[]> {
  const filter = `tags.\`${RUN_TAGS.workflowId}\` = '${escapeFilter(workflowId)}' and tags.\`${RUN_TAGS.executionId}\` = '${escapeFilter(executionId)}'`;
  return mlflow.searchRuns([experimentId], filter, 5);
}

export type RunEnd = 'FINISHED' | 'FAILED' | 'KILLED';

/** Ends a run; a reason is kept as a tag (the MLflow UI shows it beside the status). */
export async function finishRun(mlflow: MlflowClient, input: { runId: string; status: RunEnd; reason?: string }): Promise<void> {
  if (input.reason) await mlflow.logBatch(input.runId, { tags: { [RUN_TAGS.failureReason]: input.reason.slice(0, 5000) } });
  await mlflow.setTerminated(input.runId, input.status);
}

/** MLflow filter strings quote with single quotes. */
export function escapeFilter(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
}
