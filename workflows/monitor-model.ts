import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { monitorModelInputSchema, parseInput, sagaTimeoutsSchema } from '../lib/lifecycle/input';
import { policyCurationWorkflowId } from '../lib/lifecycle/ids';
import type { DriftCheck } from '../activities/index';
import { lifecycleActivities, monitoringActivities } from './activities';
import { curateDataset } from './curate-dataset';
import { validInput } from './failures';

/** What the curation policy did after a drifted check: started a curation, or why not. */
export type CurationDecision = { started: string; condition: string } | { skipped: string };

export type MonitorResult = (DriftCheck & { curation?: CurationDecision }) | { modelName: string; version: null; status: 'no_champion' };

/**
 * One drift check of a model, run by a Temporal Schedule (`lifecycle schedule
 * create --kind monitor`) or once (`lifecycle monitor`): the served version's
 * last window of logged requests against its training-time reference. The
 * window ends at the workflow's own time, so a retried check judges the same
 * requests. The result (scores, flag, report) is the workflow's result, the
 * version's MLflow run and the monitoring worker's /metrics.
 *
 * With a `curate` policy, a drifted check, or a live accuracy below the
 * policy's floor, with enough new labels starts curateDataset: once per
 * champion version whichever condition came first (the child's id is derived
 * from model and version and duplicates are rejected), never within the
 * cooldown of the last curation (the curation itself checks it), and
 * independent of this run (it outlives it).
 */
export async function monitorModel(raw?: unknown): Promise<MonitorResult> {
  const input = validInput(() => parseInput(monitorModelInputSchema, raw, 'monitorModel'));
  const lifecycle = lifecycleActivities(sagaTimeoutsSchema.parse({}), 'ml-training');
  const version = input.version ?? (await lifecycle.registry.championVersion(input.modelName));
  if (version === null) return { modelName: input.modelName, version: null, status: 'no_champion' };
  const monitoring = monitoringActivities(input.monitoringTaskQueue);
  const check = await monitoring.measureDrift({ modelName: input.modelName, version, untilMs: workflowInfo().runStartTime.getTime(), settings: input.drift });
  const policy = input.curate;
  if (!policy) return check;
  const drifted = check.status === 'ok' && check.drift;
  let condition = drifted ? 'drift' : null;
  if (!drifted) {
    const live = await lifecycle.analysis.liveAccuracyNow({ modelName: input.modelName, version });
    if (live.accuracy !== null && live.samples >= policy.minLiveLabels && live.accuracy < policy.minLiveAccuracy) {
      condition = `live accuracy ${(100 * live.accuracy).toFixed(1)}% < ${(100 * policy.minLiveAccuracy).toFixed(0)}% on ${live.samples} labels`;
    }
  }
  if (condition === null) return check;
  const labels = await monitoring.countNewLabels(input.modelName);
  if (labels < policy.minLabels) return { ...check, curation: { skipped: `${condition}, but ${labels} new labelled payload(s), fewer than ${policy.minLabels}` } };
  const workflowId = policyCurationWorkflowId(input.modelName, version);
  const { minLiveAccuracy: _floor, minLiveLabels: _labels, ...curation } = policy; // the conditions are the monitor's, not the curation's
  try {
    await startChild(curateDataset, {
      workflowId,
      args: [{ ...curation, modelName: input.modelName, monitoringTaskQueue: input.monitoringTaskQueue, pipelineTaskQueue: workflowInfo().taskQueue }],
      parentClosePolicy: ParentClosePolicy.ABANDON,
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `curate ${input.modelName}'s data from production: v${version}: ${condition} (${labels} new labels; started by ${workflowInfo().workflowId})`,
    });
    return { ...check, curation: { started: workflowId, condition } };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    return { ...check, curation: { skipped: `${condition}, but ${workflowId} was already started for this version` } };
  }
}
