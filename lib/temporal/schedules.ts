import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { scheduleId } from '../lifecycle/ids';
import { LIFECYCLE_SEARCH_ATTRIBUTES } from '../lifecycle/search-attributes';

/**
 * Lifecycle's Temporal Schedules (visible on the Temporal UI's Schedules page):
 *  - `retrain`: starts trainAndPromote every interval (periodic retraining);
 *  - `data-trigger`: starts checkDatasetUpdates every interval, which starts
 *    trainAndPromote once per new dataset digest;
 *  - `monitor`: starts monitorModel every interval (a drift check of the served version).
 * Overlapping runs are skipped: a slow training is never stacked on itself.
 */
export type ScheduleKind = 'retrain' | 'data-trigger' | 'monitor';

const WORKFLOW_OF: Record<ScheduleKind, string> = { retrain: 'trainAndPromote', 'data-trigger': 'checkDatasetUpdates', monitor: 'monitorModel' };
const SUMMARY_OF: Record<ScheduleKind, string> = { retrain: 'scheduled retrain', 'data-trigger': 'scheduled data check', monitor: 'scheduled drift check' };

export interface LifecycleSchedule {
  kind: ScheduleKind;
  modelName: string;
  /** Default: `<kind>-<model>`. */
  id?: string;
  every: Duration;
  /** The workflow's input (trainAndPromote or checkDatasetUpdates input). */
  input: Record<string, unknown>;
  taskQueue: string;
  paused?: boolean;
  note?: string;
}

export interface ScheduleSummary {
  id: string;
  workflowType: string;
  paused: boolean;
  note?: string;
  every: string[];
  nextRuns: Date[];
  recentRuns: { scheduledAt: Date; workflowId?: string }[];
  input: unknown;
}

export async function createSchedule(client: Client, s: LifecycleSchedule): Promise<string> {
  const id = s.id ?? scheduleId(s.modelName, s.kind);
  await client.schedule.create({
    scheduleId: id,
    spec: { intervals: [{ every: s.every }] },
    action: {
      type: 'startWorkflow',
      workflowType: WORKFLOW_OF[s.kind],
      taskQueue: s.taskQueue,
      workflowId: id,
      args: [s.input],
      // Each started execution shows in the Temporal UI as what it is and whose it is.
      staticSummary: `${SUMMARY_OF[s.kind]} of ${s.modelName} (schedule ${id})`,
      typedSearchAttributes: [{ key: LIFECYCLE_SEARCH_ATTRIBUTES.model, value: s.modelName }],
    },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    state: { paused: s.paused ?? false, note: s.note ?? `lifecycle ${s.kind} for ${s.modelName}` },
  });
  return id;
}

/** Changes the interval and/or the input of an existing schedule (the rest is kept). */
export async function updateSchedule(client: Client, id: string, change: { every?: Duration; input?: Record<string, unknown> }): Promise<void> {
  await client.schedule.getHandle(id).update((previous) => ({
    ...previous,
    spec: change.every !== undefined ? { intervals: [{ every: change.every }] } : previous.spec,
    action: change.input !== undefined && previous.action.type === 'startWorkflow' ? { ...previous.action, args: [change.input] } : previous.action,
  }));
}

export async function pauseSchedule(client: Client, id: string, note = 'paused by lifecycle CLI'): Promise<void> {
  await client.schedule.getHandle(id).pause(note);
}

export async function resumeSchedule(client: Client, id: string, note = 'resumed by lifecycle CLI'): Promise<void> {
  await client.schedule.getHandle(id).unpause(note);
}

export async function deleteSchedule(client: Client, id: string): Promise<void> {
  await client.schedule.getHandle(id).delete();
}

export async function describeSchedule(client: Client, id: string): Promise<ScheduleSummary | null> {
  try {
    return summarize(id, await client.schedule.getHandle(id).describe());
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return null;
    throw err;
  }
}

/** Every schedule whose id starts with one of lifecycle's prefixes (`retrain-`, `data-trigger-`, `monitor-`) or `prefix`. */
export async function listSchedules(client: Client, prefix?: string): Promise<ScheduleSummary[]> {
  const out: ScheduleSummary[] = [];
  for await (const s of client.schedule.list()) {
    const matches = prefix ? s.scheduleId.startsWith(prefix) : /^(retrain|data-trigger|monitor)-/.test(s.scheduleId);
    if (!matches) continue;
    const summary = await describeSchedule(client, s.scheduleId);
    if (summary) out.push(summary);
  }
  return out;
}

function summarize(id: string, d: ScheduleDescription): ScheduleSummary {
  const action = d.action.type === 'startWorkflow' ? d.action : null;
  return {
    id,
    workflowType: action?.workflowType ?? d.action.type,
    paused: d.state.paused,
    note: d.state.note,
    every: (d.spec.intervals ?? []).map((i) => `${Math.round(Number(i.every) / 1000)} s`),
    nextRuns: d.info.nextActionTimes,
    recentRuns: d.info.recentActions.map((a) => ({ scheduledAt: a.scheduledAt, workflowId: a.action.type === 'startWorkflow' ? a.action.workflow.workflowId : undefined })),
    input: action?.args?.[0],
  };
}
