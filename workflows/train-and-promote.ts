import { defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { PipelineActivities, TrainingActivities } from '../activities/index';
import type { PipelineStep, TrainAndPromoteInput, TrainAndPromoteResult } from '../lib/lifecycle/types';
import { decidePromotion } from './promotion-gate';

export const DEFAULT_MODEL_NAME = 'fashion-mnist-classifier';
export const DEFAULT_TRAINING_TASK_QUEUE = 'ml-training';
export const statusQuery = defineQuery<{ step: PipelineStep; detail?: string }>('status');

const pipeline = proxyActivities<PipelineActivities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5 },
});

/**
 * The model lifecycle: pull a DVC dataset version, train, log to MLflow,
 * register, promote only if the candidate beats the champion, then deploy.
 * Deterministic orchestration only; every side effect is an activity.
 */
export async function trainAndPromote(input: TrainAndPromoteInput = {}): Promise<TrainAndPromoteResult> {
  const modelName = input.modelName ?? DEFAULT_MODEL_NAME;
  const metric = input.promotionMetric ?? 'test_accuracy';
  const params = input.params ?? {};
  let status: { step: PipelineStep; detail?: string } = { step: 'pulling-dataset' };
  setHandler(statusQuery, () => status);

  const training = proxyActivities<TrainingActivities>({
    taskQueue: input.trainingTaskQueue ?? DEFAULT_TRAINING_TASK_QUEUE,
    startToCloseTimeout: '2 hours',
    // The trainer prints progress at least every few seconds; silence means the worker died.
    heartbeatTimeout: '2 minutes',
    retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
  });

  const dataset = await pipeline.pullDataset(input.dataset ?? {});
  status = { step: 'starting-run', detail: `${dataset.name}@${dataset.commit.slice(0, 12)} (${dataset.digest})` };
  const { workflowId } = workflowInfo();
  const run = await pipeline.startRun({
    experimentName: input.experimentName ?? modelName,
    idempotencyKey: workflowId,
    runName: `${dataset.name}-${workflowId}`,
    params,
    dataset,
  });
  try {
    status = { step: 'training', detail: `run ${run.runId}` };
    // Pin the exact commit so a retried or delayed training attempt sees the same data.
    const trained = await training.trainModel({ dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.commit }, params, run });

    status = { step: 'registering' };
    const model = await pipeline.registerModel({ modelName, run, trained, dataset });

    status = { step: 'evaluating', detail: `v${model.version}` };
    const champion = await pipeline.getChampion(modelName, metric);
    const decision = decidePromotion(metric, trained.metrics[metric], champion, input.minImprovement ?? 0);
    await pipeline.recordDecision(model, decision);

    let deployment = null;
    if (decision.promote) {
      if (input.deploy ?? true) {
        status = { step: 'deploying', detail: `v${model.version}` };
        deployment = await pipeline.deployModel(model, `${workflowId}-v${model.version}`);
      }
      status = { step: 'promoting', detail: `v${model.version}` };
      await pipeline.setChampion(model);
    }
    await pipeline.finishRun(run.runId, 'FINISHED');
    status = { step: 'done', detail: decision.reason };
    return { dataset, runId: run.runId, model, metrics: trained.metrics, decision, deployment };
  } catch (err) {
    status = { step: 'failed', detail: err instanceof Error ? err.message : String(err) };
    await pipeline.finishRun(run.runId, 'FAILED');
    throw err;
  }
}
