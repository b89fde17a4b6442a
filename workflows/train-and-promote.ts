import { ApplicationFailure, CancellationScope, isCancellation, workflowInfo } from '@temporalio/workflow';
import { InvalidInputError, parseInput, trainAndPromoteInputSchema, type TrainAndPromoteConfig } from '../lib/lifecycle/input';
import { pinned, type PromotionDecision, type PromotionOutcome, type TrainAndPromoteResult } from '../lib/lifecycle/types';
import { lifecycleActivities, type LifecycleActivities } from './activities';
import { fairGate, type Candidate } from './gate';
import { ProgressTracker } from './progress';
import { promoteWithSaga } from './promotion-saga';

export { progressQuery, statusQuery } from './progress';

/** Reads a workflow's input, failing the workflow (not its task) with the bad fields named. */
export function validInput<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidInputError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

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
  const progress = new ProgressTracker(input.modelName, ['dataset', 'run', 'training', 'registration', 'gate', 'rollout', 'alias']);
  const acts = lifecycleActivities(input.timeouts, input.trainingTaskQueue);
  const experimentName = input.experimentName ?? input.modelName;
  let runStarted = false;
  try {
    progress.begin('dataset', 'resolving-dataset');
    const dataset = await acts.data.resolveDataset(input.dataset);
    progress.state.dataset = { name: dataset.name, path: dataset.path, commit: dataset.commit, digest: dataset.digest };
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
    progress.state.model = model;
    progress.end('registration', 'done', `v${model.version}`);

    const candidate: Candidate = { model, value: trained.metrics[input.promotionMetric] ?? null, splitDigest: trained.splits.test, dataset: { ...dataset, ...pinned(dataset) } };
    const outcome = await gateAndPromote(acts, progress, input, candidate);
    // After the pivot the promotion has happened: closing the run must not be undone by a late cancel.
    await CancellationScope.nonCancellable(() => acts.registry.finishRun({ runId: run.runId, status: 'FINISHED' }));
    progress.finish('done', outcome.decision.reason);
    return { dataset, runId: run.runId, model, metrics: trained.metrics, decision: outcome.decision, deployment: outcome.deployment, promoted: outcome.status === 'promoted' };
  } catch (err) {
    const cancelled = isCancellation(err);
    const reason = cancelled ? 'workflow cancelled' : failureMessage(err);
    progress.finish(cancelled ? 'cancelled' : 'failed', reason);
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

/** Gate, record the evidence, and run the promotion saga when the gate says so. */
export async function gateAndPromote(
  acts: LifecycleActivities,
  progress: ProgressTracker,
  input: Pick<TrainAndPromoteConfig, 'promotionMetric' | 'minImprovement' | 'deploy'>,
  candidate: Candidate,
  force = false,
): Promise<PromotionOutcome> {
  const { model } = candidate;
  const decide = async () => {
    progress.begin('gate', 'gating', `v${model.version} against the champion`);
    const decision = await fairGate(acts, candidate, input.promotionMetric, input.minImprovement);
    const recorded = force && !decision.promote ? { ...decision, forced: true } : decision;
    progress.state.decision = recorded;
    progress.end('gate', 'done', recorded.reason);
    return recorded;
  };
  const record = (d: PromotionDecision) => acts.registry.recordDecision(model, d);
  const decision = await decide();
  await record(decision);
  if (!decision.promote && !force) {
    progress.end('rollout', 'skipped', 'not promoted');
    progress.end('alias', 'skipped', 'not promoted');
    return { status: 'rejected', decision, deployment: null, previousChampion: decision.championVersion };
  }
  const info = workflowInfo();
  const outcome = await promoteWithSaga(acts, progress, {
    model,
    decision,
    deploy: input.deploy,
    force,
    deploymentId: `${info.workflowId}/${info.runId}/v${model.version}`,
    description: `${info.workflowType} ${info.workflowId}: ${model.name} v${model.version}`,
    regate: decide,
    recordDecision: record,
  });
  progress.state.decision = outcome.decision;
  progress.state.deployment = outcome.deployment;
  return outcome;
}

function fmt(v: number | undefined): string {
  return v === undefined ? 'n/a' : v.toFixed(4);
}

/** The innermost message of a Temporal failure chain (ActivityFailure -> ApplicationFailure -> ...). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) {
    e = (e as { cause: Error }).cause;
    message = (e as Error).message || message;
  }
  return message;
}
