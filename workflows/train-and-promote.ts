import { CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import { parseInput, trainAndPromoteInputSchema } from '../lib/lifecycle/input';
import { promotionOutcome } from '../lib/lifecycle/story';
import { pinned, type TrainAndPromoteResult } from '../lib/lifecycle/types';
import { lifecycleActivities } from './activities';
import { failureMessage, validInput } from './failures';
import type { Candidate } from './gate';
import { ProgressTracker } from './progress';
import { RolloutControl } from './rollout-control';
import { gateAndPromote, rolloutFields } from './promotion';

export { progressQuery, statusQuery } from './progress';

/**
 * The model lifecycle: resolve a DVC dataset version (no download), open this
 * execution's MLflow run, train on the training queue (resumable), register
 * the MLflow model, gate it fairly against the champion, and promote it as a
 * saga. Deterministic orchestration only; every side effect is an activity.
 * A failure or cancellation at any step ends the run FAILED/KILLED with the
 * reason and leaves no half-registered version, in a non-cancellable scope.
 */
export async function trainAndPromote(raw?: unknown): Promise<TrainAndPromoteResult> {
  const input = validInput(() => parseInput(trainAndPromoteInputSchema, raw, 'trainAndPromote'));
  const info = workflowInfo();
  const progress = new ProgressTracker(input.modelName, ['dataset', 'run', 'training', 'registration', 'gate', 'rollout', 'alias'], {
    kind: 'train',
    datasetRef: input.dataset,
  });
  // Registered first thing, so `lifecycle approve|abort|pause|resume` always gets an answer (a refusal until a rollout runs).
  const control = new RolloutControl(input.modelName);
  const acts = lifecycleActivities(input.timeouts, input.trainingTaskQueue);
  const experimentName = input.experimentName ?? input.modelName;
  let runStarted = false;
  try {
    progress.begin('dataset', 'resolving-dataset');
    const dataset = await acts.data.resolveDataset(input.dataset);
    progress.dataset({ name: dataset.name, path: dataset.path, commit: dataset.commit, digest: dataset.digest });
    progress.end('dataset', 'done', `${dataset.name}@${dataset.commit.slice(0, 12)} (${dataset.digest})`);

    progress.begin('run', 'starting-run');
    runStarted = true;
    const run = await acts.registry.startRun({
      experimentName,
      workflowId: info.workflowId,
      executionId: info.runId,
      workflowType: info.workflowType,
      runName: `${dataset.name}-${info.workflowId}`,
      requestedParams: input.params,
      dataset,
    });
    progress.state.runId = run.runId;
    progress.end('run', 'done', run.runId);

    progress.begin('training', 'training', `run ${run.runId}`);
    const trained = await acts.training.trainModel({ dataset: { ...dataset, ...pinned(dataset) }, params: input.params, run });
    progress.state.metrics = trained.metrics;
    progress.end('training', 'done', `${input.promotionMetric} ${fmt(trained.metrics[input.promotionMetric])}`);

    progress.begin('registration', 'registering');
    const model = await acts.registry.registerModel({ modelName: input.modelName, run, trained, dataset, workflowId: info.workflowId });
    progress.version(model);
    progress.end('registration', 'done', `v${model.version}`);

    const candidate: Candidate = { model, value: trained.metrics[input.promotionMetric] ?? null, splitDigest: trained.splits.test, dataset: { ...dataset, ...pinned(dataset) } };
    const outcome = await gateAndPromote(acts, progress, control, input, candidate);
    // After the pivot the promotion has happened: closing the run must not be undone by a late cancel.
    await CancellationScope.nonCancellable(() => acts.registry.finishRun({ runId: run.runId, status: 'FINISHED' }));
    progress.finish('done', outcome.decision.reason, promotionOutcome('train', outcome.status === 'promoted', outcome.status === 'rolled-back'));
    return { dataset, runId: run.runId, model, metrics: trained.metrics, decision: outcome.decision, deployment: outcome.deployment, promoted: outcome.status === 'promoted', ...rolloutFields(outcome) };
  } catch (err) {
    const cancelled = isCancellation(err);
    const reason = cancelled ? 'workflow cancelled' : failureMessage(err);
    progress.finish(cancelled ? 'cancelled' : 'failed', reason, cancelled ? 'cancelled' : 'failed');
    if (runStarted) {
      await CancellationScope.nonCancellable(() =>
        acts.cleanup.abandonExecution({
          experimentName,
          modelName: input.modelName,
          workflowId: info.workflowId,
          executionId: info.runId,
          status: cancelled ? 'KILLED' : 'FAILED',
          reason,
        }),
      );
    }
    throw err;
  }
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : v.toFixed(4);
}
