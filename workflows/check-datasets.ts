import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { checkDatasetsInputSchema, parseInput, sagaTimeoutsSchema } from '../lib/lifecycle/input';
import { dataTriggerWorkflowId } from '../lib/lifecycle/ids';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA } from '../lib/lifecycle/search-attributes';
import { storyHead } from '../lib/lifecycle/story';
import type { CheckDatasetsResult } from '../lib/lifecycle/types';
import { lifecycleActivities } from './activities';
import { validInput } from './failures';
import { trainAndPromote } from './train-and-promote';

/**
 * The data trigger, run by a Temporal Schedule (or once by `lifecycle
 * trigger`): looks at the tracked DVC pointers at `rev` and starts
 * trainAndPromote once per new dataset digest. Exactly-once comes from
 * Temporal: the child's workflow id is derived from model + digest and its
 * reuse policy rejects duplicates, so checks that run many times, or two
 * checkers racing, start one run; a digest the registry already has a version
 * for is skipped even after Temporal's retention forgot the old id.
 */
export async function checkDatasetUpdates(raw?: unknown): Promise<CheckDatasetsResult> {
  const input = validInput(() => parseInput(checkDatasetsInputSchema, raw, 'checkDatasetUpdates'));
  const acts = lifecycleActivities(input.train.timeouts ?? sagaTimeoutsSchema.parse({}), input.train.trainingTaskQueue ?? 'ml-training');
  const checks = await acts.data.inspectDatasets({ modelName: input.modelName, repo: input.repo, paths: input.paths ?? [], rev: input.rev });
  const result: CheckDatasetsResult = { started: [], skipped: [] };
  for (const { dataset, complete, alreadyTrained } of checks) {
    const at = { digest: dataset.digest, path: dataset.path };
    if (!complete) {
      result.skipped.push({ ...at, reason: 'the DVC remote does not hold every object yet (dvc push pending)' });
      continue;
    }
    if (alreadyTrained) {
      result.skipped.push({ ...at, reason: `${input.modelName} already has a version trained on this digest` });
      continue;
    }
    const workflowId = dataTriggerWorkflowId(input.modelName, dataset.digest);
    try {
      await startChild(trainAndPromote, {
        workflowId,
        taskQueue: input.pipelineTaskQueue ?? workflowInfo().taskQueue,
        args: [{ ...input.train, modelName: input.modelName, dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.commit } }],
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        // User metadata and attributes on the start command (no new command): the UI shows why the run exists.
        staticSummary: `${storyHead(input.modelName, { kind: 'train', datasetRef: { path: dataset.path, rev: dataset.commit.slice(0, 7) } })} (new data, started by ${workflowInfo().workflowId})`,
        typedSearchAttributes: [
          { key: SA.model, value: input.modelName },
          { key: SA.datasetPath, value: dataset.path },
          { key: SA.datasetDigest, value: dataset.digest },
        ],
      });
      result.started.push({ workflowId, ...at });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      result.skipped.push({ ...at, reason: `${workflowId} was already started` });
    }
  }
  return result;
}
