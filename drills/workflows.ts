/** The lifecycle workflows as the drills run them: started through Temporal like the CLI does, watched, and judged. */
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultPayloadConverter, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { PromoteVersionInput, TrainAndPromoteInput } from '../lib/lifecycle/input';
import type { RolloutInput } from '../lib/lifecycle/rollout-config';
import type { PromoteVersionResult, TrainAndPromoteResult } from '../lib/lifecycle/types';
import type { Stack } from './stack';

const PIPELINE_QUEUE = process.env.PIPELINE_TASK_QUEUE ?? 'ml-pipeline';

export async function startPromote(stack: Stack, workflowId: string, version: string): Promise<WorkflowHandle> {
  // The drills exercise the full rollout under faults: all at once (progressive delivery would hold the version in shadow first).
  const input: PromoteVersionInput = { modelName: stack.modelName, version, force: true, reason: `fault drill ${workflowId}`, rollout: { strategy: 'all-at-once' } };
  return (await stack.temporal()).workflow.start('promoteVersion', { taskQueue: PIPELINE_QUEUE, workflowId, args: [input] });
}

/** `promoteVersion --force` with a progressive rollout (`rollout`), on `taskQueue` (default: the stack's pipeline workers). */
export async function startProgressivePromote(stack: Stack, workflowId: string, version: string, rollout: RolloutInput, taskQueue = PIPELINE_QUEUE): Promise<WorkflowHandle> {
  const input: PromoteVersionInput = { modelName: stack.modelName, version, force: true, reason: `fault drill ${workflowId}`, rollout: { ...rollout, strategy: 'progressive' } };
  return (await stack.temporal()).workflow.start('promoteVersion', { taskQueue, workflowId, args: [input] });
}

export async function startTrain(stack: Stack, workflowId: string, input: TrainAndPromoteInput): Promise<WorkflowHandle> {
  return (await stack.temporal()).workflow.start('trainAndPromote', { taskQueue: PIPELINE_QUEUE, workflowId, args: [{ modelName: stack.modelName, rollout: { strategy: 'all-at-once' }, ...input }] });
}

/** The small training the drills run: dataset v1, a couple of epochs (seconds, not minutes). */
export function smallTraining(epochs: number): TrainAndPromoteInput {
  return { dataset: { path: 'dvc/data/fashion-mnist-v1' }, params: { epochs } };
}

export interface PendingActivity {
  type: string;
  attempt: number;
  state: string;
  /** The worker that runs it (`<pid>@<host>` by default). */
  identity: string;
  details: unknown;
}

/** The workflow's pending activities with their latest heartbeat details; [] while the server is unreachable. */
export async function pendingActivities(handle: WorkflowHandle): Promise<PendingActivity[]> {
  try {
    const d = await handle.describe();
    return (d.raw.pendingActivities ?? []).map((a) => {
      const payload = a.heartbeatDetails?.payloads?.[0];
      let details: unknown = null;
      try {
        details = payload ? defaultPayloadConverter.fromPayload(payload) : null;
      } catch {
        details = null;
      }
      return { type: a.activityType?.name ?? '?', attempt: a.attempt ?? 1, state: String(a.state ?? ''), identity: a.lastWorkerIdentity ?? '', details };
    });
  } catch {
    return [];
  }
}

/** The pid in a default Temporal worker identity (`<pid>@<host>`). */
export function pidOfIdentity(identity: string): number | null {
  const m = /^(\d+)@/.exec(identity);
  return m ? Number(m[1]) : null;
}

export type Ending<R> = { ok: true; result: R } | { ok: false; error: string };

/** Waits for the workflow to end (up to `timeoutMs`) and says how; rides out a Temporal server that is briefly away. */
export async function ending<R>(handle: WorkflowHandle, timeoutMs: number): Promise<Ending<R>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()))));
    try {
      const result = await Promise.race([handle.result() as Promise<unknown>, timeout]);
      if (result === 'timeout') return { ok: false, error: `still running after ${Math.round(timeoutMs / 1000)} s` };
      return { ok: true, result: result as R };
    } catch (err) {
      if (err instanceof WorkflowFailedError) return { ok: false, error: innermost(err) };
      if (Date.now() > deadline) return { ok: false, error: innermost(err) };
      await sleep(1000); // the server is unreachable (restarting): ask again
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The innermost message of a Temporal failure chain, with its type (ApplicationFailure code) when it has one. */
export function innermost(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) e = (e as { cause: Error }).cause;
  const type = (e as { type?: string }).type;
  const message = e instanceof Error ? e.message : String(e);
  return type ? `${type}: ${message}` : message;
}

export function describePromotion(end: Ending<PromoteVersionResult>): string {
  if (!end.ok) return `failed: ${end.error}`;
  const r = end.result;
  if (r.rolledBack) return `rolled back v${r.model.version}: ${r.rollout?.reason ?? r.decision.reason}`;
  return r.promoted ? `promoted v${r.model.version}${r.decision.forced ? ' (forced)' : ''}` : `not promoted: ${r.decision.reason}`;
}

export function describeTraining(end: Ending<TrainAndPromoteResult>): string {
  if (!end.ok) return `failed: ${end.error}`;
  const r = end.result;
  return `completed, v${r.model.version} ${r.promoted ? 'promoted' : 'not promoted'} (test_accuracy ${(r.metrics.test_accuracy ?? NaN).toFixed(4)})`;
}
