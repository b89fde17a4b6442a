import { VERSION_TAGS, tagsOf, type MlflowClient } from '../lib/mlflow/client';
import { CHALLENGER_ALIAS, CHAMPION_ALIAS, currentActor, type Actor } from './registry';
import { refreshVersionDescription, stamp } from './version-story';
import { escapeFilter, findExecutionRuns, RUN_TAGS, type RunEnd } from './tracking';

export interface AbandonInput {
  experimentName: string;
  modelName: string;
  workflowId: string;
  executionId: string;
  status: Exclude<RunEnd, 'FINISHED'>;
  reason: string;
}

export interface AbandonResult {
  runs: string[];
  versions: string[];
}

/**
 * Cleanup after a failed or cancelled execution, found by its workflow and
 * execution ids rather than by anything the workflow may not have received
 * (the run or version may have been created by an activity whose result was
 * lost to the cancellation). Its runs end KILLED or FAILED with the reason as a
 * tag; a version it registered that did not become champion is marked with the
 * outcome and loses the `challenger` alias, so the registry never shows a
 * half-finished candidate as live. Idempotent.
 */
export async function abandonExecution(mlflow: MlflowClient, input: AbandonInput, actor: Actor = currentActor()): Promise<AbandonResult> {
  const experimentId = await mlflow.getOrCreateExperiment(input.experimentName);
  const runs = await findExecutionRuns(mlflow, experimentId, input.workflowId, input.executionId);
  const versions: string[] = [];
  const champion = await mlflow.getModelVersionByAlias(input.modelName, CHAMPION_ALIAS);
  const challenger = await mlflow.getModelVersionByAlias(input.modelName, CHALLENGER_ALIAS);
  const outcome = input.status === 'KILLED' ? 'cancelled' : 'failed';
  for (const run of runs) {
    const runId = run.info.run_id;
    if (run.info.status === 'RUNNING' || run.info.status === 'SCHEDULED') {
      await mlflow.logBatch(runId, { tags: { [RUN_TAGS.failureReason]: input.reason.slice(0, 5000) } });
      await mlflow.setTerminated(runId, input.status);
    }
    for (const mv of await mlflow.searchModelVersions(`name='${escapeFilter(input.modelName)}' and run_id='${escapeFilter(runId)}'`)) {
      if (mv.version === champion?.version) continue; // the saga committed: it is the champion, and stays one
      versions.push(mv.version);
      if (tagsOf(mv)[VERSION_TAGS.outcome] !== 'rejected') {
        await mlflow.setModelVersionTag(input.modelName, mv.version, VERSION_TAGS.outcome, outcome);
      }
      if (challenger?.version === mv.version) await mlflow.deleteAlias(input.modelName, CHALLENGER_ALIAS);
      // The reason is the run's (lifecycle.failure_reason); the version tells it in a sentence.
      await refreshVersionDescription(mlflow, input.modelName, mv.version, `${stamp(actor.at)} ${input.workflowId} ${outcome}: ${input.reason.replace(/\s+/g, ' ').slice(0, 300)}`);
    }
  }
  return { runs: runs.map((r) => r.info.run_id), versions };
}
