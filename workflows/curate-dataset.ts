import { executeChild, ParentClosePolicy, workflowInfo } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import type { CurationResult } from '../activities/index';
import { curateDatasetInputSchema, parseInput } from '../lib/lifecycle/input';
import { curatedDataCheckWorkflowId } from '../lib/lifecycle/ids';
import type { CheckDatasetsResult } from '../lib/lifecycle/types';
import { checkDatasetUpdates } from './check-datasets';
import { curationActivities } from './activities';
import { validInput } from './failures';

export type CurateDatasetResult = CurationResult & { training?: CheckDatasetsResult };

/**
 * A new dataset version of a model from production (`lifecycle curate`, or the monitor's policy on
 * drift): the champion's training data plus the labelled payloads since the last curation,
 * published to the dataset repository like any version (activities/curation.ts). Then the data
 * trigger runs on that revision, which starts trainAndPromote once per new digest: the candidate
 * goes through the same gate and progressive rollout as any other.
 */
export async function curateDataset(raw?: unknown): Promise<CurateDatasetResult> {
  const input = validInput(() => parseInput(curateDatasetInputSchema, raw, 'curateDataset'));
  const result = await curationActivities(input.monitoringTaskQueue).curateDataset({
    modelName: input.modelName,
    minLabels: input.minLabels,
    holdOutShare: input.holdOutShare,
    cooldownMs: msToNumber(input.cooldown),
    force: input.force,
    nowMs: workflowInfo().runStartTime.getTime(),
  });
  if (result.status !== 'curated' || !input.train) return result;
  const { dataset } = result;
  const rollout = input.trainInput.rollout;
  const train = { ...input.trainInput, rollout: { ...rollout, criteria: { ...rollout?.criteria, requireLiveAccuracy: input.requireLiveAccuracy } } };
  const training = await executeChild(checkDatasetUpdates, {
    workflowId: curatedDataCheckWorkflowId(input.modelName, dataset.digest),
    args: [{ modelName: input.modelName, repo: dataset.repo, paths: [dataset.path], rev: dataset.rev, train, pipelineTaskQueue: input.pipelineTaskQueue }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
    staticSummary: `data check of ${dataset.path}@${dataset.rev} (curated from production by ${workflowInfo().workflowId})`,
  });
  return { ...result, training };
}
