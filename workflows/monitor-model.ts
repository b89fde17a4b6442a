import { workflowInfo } from '@temporalio/workflow';
import { monitorModelInputSchema, parseInput, sagaTimeoutsSchema } from '../lib/lifecycle/input';
import type { DriftCheck } from '../activities/index';
import { lifecycleActivities, monitoringActivities } from './activities';
import { validInput } from './failures';

export type MonitorResult = DriftCheck | { modelName: string; version: null; status: 'no_champion' };

/**
 * One drift check of a model, run by a Temporal Schedule (`lifecycle schedule
 * create --kind monitor`) or once (`lifecycle monitor`): the served version's
 * last window of logged requests against its training-time reference. The
 * window ends at the workflow's own time, so a retried check judges the same
 * requests. The result (scores, flag, report) is the workflow's result, the
 * version's MLflow run and the monitoring worker's /metrics.
 */
export async function monitorModel(raw?: unknown): Promise<MonitorResult> {
  const input = validInput(() => parseInput(monitorModelInputSchema, raw, 'monitorModel'));
  const registry = lifecycleActivities(sagaTimeoutsSchema.parse({}), 'ml-training').registry;
  const version = input.version ?? (await registry.championVersion(input.modelName));
  if (version === null) return { modelName: input.modelName, version: null, status: 'no_champion' };
  return monitoringActivities(input.monitoringTaskQueue).measureDrift({
    modelName: input.modelName,
    version,
    untilMs: workflowInfo().runStartTime.getTime(),
    settings: input.drift,
  });
}
