import type { CheckDatasetsInput, TrainAndPromoteInput } from '../../lib/lifecycle/types';
import { checkDatasetsInputSchema, monitorModelInputSchema, parseInput, trainAndPromoteInputSchema, type MonitorModelInput } from '../../lib/lifecycle/input';
import { scheduleId } from '../../lib/lifecycle/ids';
import {
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  pauseSchedule,
  resumeSchedule,
  updateSchedule,
  type ScheduleKind,
  type ScheduleSummary,
} from '../../lib/temporal/schedules';
import { msToNumber, type Duration } from '@temporalio/common/lib/time';
import { parseJsonOption, parseParams, UsageError } from '../args';
import type { CliContext } from '../config';

export const scheduleOptions = {
  every: { type: 'string' },
  kind: { type: 'string' },
  id: { type: 'string' },
  input: { type: 'string' },
  params: { type: 'string' },
  param: { type: 'string', multiple: true },
  path: { type: 'string', multiple: true },
  paused: { type: 'boolean' },
} as const;

interface ScheduleValues {
  every?: string;
  kind?: string;
  id?: string;
  input?: string;
  params?: string;
  param?: string[];
  path?: string[];
  paused?: boolean;
}

/** --every as a Temporal duration ('10m', '1 day', '3600000'). */
function everyOf(v: ScheduleValues): Duration | undefined {
  if (v.every === undefined) return undefined;
  const every = (/^\d+$/.test(v.every) ? Number(v.every) : v.every) as Duration;
  try {
    if (msToNumber(every) > 0) return every;
  } catch {
    // reported below
  }
  throw new UsageError(`--every ${v.every} is not a duration (for example 10m, 1h, 7 days)`);
}

function kindOf(v: ScheduleValues): ScheduleKind {
  const kind = v.kind ?? 'retrain';
  if (kind !== 'retrain' && kind !== 'data-trigger' && kind !== 'monitor') throw new UsageError(`--kind must be retrain, data-trigger or monitor, got ${kind}`);
  return kind;
}

const hasInputOptions = (v: ScheduleValues) => !!(v.input || v.params || v.param || v.path);

/** The workflow input a schedule starts: --input JSON, plus --params/--param (trainer params) and --path (tracked datasets). */
function inputOf(ctx: CliContext, kind: ScheduleKind, v: ScheduleValues): Record<string, unknown> {
  const given = parseJsonOption<Record<string, unknown>>('input', v.input);
  const params = v.params || v.param ? parseParams(v.params, v.param) : undefined;
  if (kind === 'retrain') {
    const input: TrainAndPromoteInput = { modelName: ctx.model, trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE, ...given, ...(params ? { params } : {}) };
    parseInput(trainAndPromoteInputSchema, input, 'trainAndPromote');
    return input;
  }
  if (kind === 'monitor') {
    const input: MonitorModelInput = { modelName: ctx.model, ...given };
    parseInput(monitorModelInputSchema, input, 'monitorModel');
    return input;
  }
  const input: CheckDatasetsInput = {
    modelName: ctx.model,
    pipelineTaskQueue: ctx.config.PIPELINE_TASK_QUEUE,
    ...given,
    ...(v.path ? { paths: v.path } : {}),
    train: { trainingTaskQueue: ctx.config.TRAINING_TASK_QUEUE, ...(given?.train as object | undefined), ...(params ? { params } : {}) },
  };
  parseInput(checkDatasetsInputSchema, input, 'checkDatasetUpdates');
  return input;
}

function print(s: ScheduleSummary): void {
  console.log(`${s.id}  ${s.workflowType}  every ${s.every.join(', ')}  ${s.paused ? 'PAUSED' : 'active'}${s.note ? `  (${s.note})` : ''}`);
  if (!s.paused && s.nextRuns[0]) console.log(`  next run: ${s.nextRuns[0].toISOString()}`);
  for (const r of s.recentRuns.slice(-3)) console.log(`  ran ${r.scheduledAt.toISOString()}: ${r.workflowId ?? ''}`);
  console.log(`  input: ${JSON.stringify(s.input)}`);
}

/** `lifecycle schedule create|update|pause|resume|delete|list|describe` */
export async function schedule(ctx: CliContext, action: string | undefined, v: ScheduleValues): Promise<number> {
  const client = await ctx.temporal();
  const kind = kindOf(v);
  const id = v.id ?? scheduleId(ctx.model, kind);
  switch (action) {
    case 'create': {
      const defaults: Record<ScheduleKind, Duration> = { retrain: '7 days', 'data-trigger': '5 minutes', monitor: '15 minutes' };
      const every = everyOf(v) ?? defaults[kind];
      const created = await createSchedule(client, { kind, modelName: ctx.model, id, every, input: inputOf(ctx, kind, v), taskQueue: ctx.config.PIPELINE_TASK_QUEUE, paused: v.paused });
      console.log(`created schedule ${created}`);
      break;
    }
    case 'update':
      if (!v.every && !hasInputOptions(v)) throw new UsageError('schedule update needs --every and/or --input/--params/--path');
      await updateSchedule(client, id, { every: everyOf(v), input: hasInputOptions(v) ? inputOf(ctx, kind, v) : undefined });
      console.log(`updated schedule ${id}`);
      break;
    case 'pause':
      await pauseSchedule(client, id);
      console.log(`paused schedule ${id}`);
      break;
    case 'resume':
      await resumeSchedule(client, id);
      console.log(`resumed schedule ${id}`);
      break;
    case 'delete':
      await deleteSchedule(client, id);
      console.log(`deleted schedule ${id}`);
      return 0;
    case 'list': {
      const all = await listSchedules(client);
      if (all.length === 0) console.log('(no lifecycle schedules)');
      all.forEach(print);
      return 0;
    }
    case 'describe':
      break;
    default:
      throw new UsageError('schedule needs an action: create, update, pause, resume, delete, list, describe');
  }
  const summary = await describeSchedule(client, id);
  if (!summary) throw new UsageError(`no schedule ${id}`);
  print(summary);
  return 0;
}
