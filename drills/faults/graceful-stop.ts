/**
 * What a Kubernetes scale-in or rolling update does to a Temporal worker: SIGTERM (not SIGKILL),
 * then TEMPORAL_SHUTDOWN_GRACE_MS for running activities (issue 18; the pods' grace periods are
 * longer). supervisord restarts the worker once it has exited, as a Deployment replaces a pod.
 *  - pipeline-term: SIGTERM of the pipeline worker mid-rollout under load. The draining worker
 *    finishes the rollout: deployModel completes on its first attempt, nothing is rolled back
 *    (no restoreFleet), the promotion completes, no request fails.
 *  - train-term: SIGTERM of the training worker mid-epoch. Within its grace the worker either
 *    finishes the training or the attempt is cancelled and handed over: the retry on the restarted
 *    worker resumes from the checkpoint. Either way it exits within the grace (+ 10 s), and the
 *    workflow ends with exactly one new version and no trainer left running.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { PromoteVersionResult, TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { tagsOf } from '../../lib/mlflow/client';
import { championRef } from '../consistency';
import { expectCleanLoad, waitFor, type Drill, type DrillContext } from '../drill';
import type { StackProcess } from '../stack';
import { versionNumbers } from '../versions';
import { describePromotion, describeTraining, ending, pendingActivities, pidOfIdentity, smallTraining, startTrain } from '../workflows';
import { backUnderNewPid, expectVersions, signalNow, stamp } from './common';
import { trainerProcesses } from './trainer-processes';
import { promoteCopyUnderLoad, rolloutUnderWay } from './promote-under-load';

/** The worker's shutdown grace as the stack configured it (the code's default when unset). */
function graceMs(ctx: DrillContext, name: string): number {
  return Number(ctx.stack.processEnv(name).TEMPORAL_SHUTDOWN_GRACE_MS ?? 25_000);
}

/** SIGTERM now; resolves with the ms until the process is gone (null: still alive after `timeoutMs`). */
async function terminate(ctx: DrillContext, victim: StackProcess, timeoutMs: number): Promise<number | null> {
  signalNow(ctx, victim, 'SIGTERM');
  const alive = () => {
    try {
      process.kill(victim.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  return waitFor(() => Promise.resolve(!alive()), timeoutMs, 50);
}

interface ActivityOutcome {
  type: string;
  /** Attempt of the final start (Temporal records only the last attempt of a retried activity). */
  attempt: number | null;
  completedAt: number | null;
}

/** Every activity the workflow scheduled, from its history. */
async function activities(handle: WorkflowHandle): Promise<ActivityOutcome[]> {
  const events = (await handle.fetchHistory()).events ?? [];
  const byScheduled = new Map<string, ActivityOutcome>();
  for (const e of events) {
    const at = e.eventTime?.seconds ? Number(e.eventTime.seconds) * 1000 + Math.floor((e.eventTime.nanos ?? 0) / 1e6) : null;
    if (e.activityTaskScheduledEventAttributes) byScheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes.activityType?.name ?? '?', attempt: null, completedAt: null });
    const started = e.activityTaskStartedEventAttributes;
    if (started) byScheduled.get(String(started.scheduledEventId))!.attempt = started.attempt ?? null;
    const completed = e.activityTaskCompletedEventAttributes;
    if (completed) byScheduled.get(String(completed.scheduledEventId))!.completedAt = at;
  }
  return [...byScheduled.values()];
}

export const pipelineTerm: Drill = {
  name: 'pipeline-term',
  fault: 'SIGTERM of the pipeline worker in the middle of a rollout (drain within its grace)',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const pipelineWorkers = (await stack.processes()).filter((p) => p.name.startsWith('pipeline-worker-'));
    const { old, next, load, startedAt, workflowId, handle } = await promoteCopyUnderLoad(ctx, 'pipeline-term');
    await rolloutUnderWay(ctx, workflowId);
    // A cached file rolls out in about a second: with one pipeline worker, no status call before the signal.
    const deploy = pipelineWorkers.length > 1 ? (await pendingActivities(handle)).find((a) => a.type === 'deployModel') : undefined;
    const victim = pipelineWorkers.find((p) => p.pid === pidOfIdentity(deploy?.identity ?? '')) ?? pipelineWorkers[0]!;
    const grace = graceMs(ctx, victim.name);
    const termAt = Date.now();
    const exitedMs = await terminate(ctx, victim, grace + 10_000);
    ctx.expect(exitedMs !== null, `${victim.name} still running ${grace / 1000 + 10} s after SIGTERM (grace ${grace / 1000} s)`);
    const back = await backUnderNewPid(ctx, victim, 90_000);
    ctx.expect(back !== null, `${victim.name} was not restarted and ready within 90 s`);
    const end = await ending<PromoteVersionResult>(handle, 10 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    const acts = await activities(handle);
    const deployed = acts.find((a) => a.type === 'deployModel');
    ctx.expect(end.ok && end.result.promoted, `the promotion did not complete: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    ctx.expect(deployed?.attempt === 1, `deployModel ran ${deployed?.attempt ?? 'no'} attempt(s): the SIGTERM cut the rollout short`);
    ctx.expect(!acts.some((a) => a.type === 'restoreFleet'), 'the fleet was rolled back (restoreFleet ran)');
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    const midway = deployed?.completedAt != null && deployed.completedAt > termAt;
    ctx.note(`SIGTERM ${midway ? 'while deployModel ran' : 'after deployModel completed (rollout too quick to catch)'}; ${victim.name} exited ${exitedMs} ms later (grace ${grace / 1000} s), back in ${back} ms`);
    ctx.expect(midway, 'the SIGTERM did not land during the rollout: nothing was drilled');
    return { load: summary, workflow: describePromotion(end), recoverMs: exitedMs, recoveredWhen: 'rollout finished on the draining worker, which then exited' };
  },
};

interface Beat {
  event?: string;
  epoch?: number;
  step?: number;
  checkpoint?: { epoch?: number } | null;
}

export const trainTerm: Drill = {
  name: 'train-term',
  fault: 'SIGTERM of the training worker in the middle of an epoch (finish or hand over within its grace)',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const before = new Set(await versionNumbers(stack));
    const epochs = 3;
    const load = ctx.startLoad();
    const handle = await startTrain(stack, `drill-train-term-${stamp()}`, smallTraining(epochs));
    // Mid-epoch: a checkpoint is in the heartbeat and the trainer reports steps of the next epoch.
    let beat: Beat | null = null;
    let identity = '';
    const midEpoch = await waitFor(async () => {
      const train = (await pendingActivities(handle)).find((a) => a.type === 'trainModel');
      identity = train?.identity ?? '';
      beat = (train?.details as Beat | null) ?? null;
      const ckpt = beat?.checkpoint?.epoch ?? 0;
      return beat?.event === 'progress' && ckpt >= 1 && (beat.epoch ?? 0) > ckpt;
    }, 10 * 60_000, 100);
    if (midEpoch === null) throw new Error('the training never reported steps after a checkpoint within 10 min');
    const workers = (await stack.processes()).filter((p) => p.name.startsWith('training-worker-'));
    const victim = workers.find((p) => p.pid === pidOfIdentity(identity)) ?? workers[0]!;
    const grace = graceMs(ctx, victim.name);
    const at = beat as Beat | null;
    const exitedMs = await terminate(ctx, victim, grace + 10_000);
    ctx.expect(exitedMs !== null, `${victim.name} still running ${grace / 1000 + 10} s after SIGTERM (grace ${grace / 1000} s)`);
    const back = await backUnderNewPid(ctx, victim, 90_000);
    ctx.expect(back !== null, `${victim.name} was not restarted and ready within 90 s`);
    const end = await ending<TrainAndPromoteResult>(handle, 15 * 60_000);
    const summary = await load.stop();

    ctx.expect(end.ok, `the workflow did not complete: ${describeTraining(end)}`);
    const created = (await versionNumbers(stack)).filter((v) => !before.has(v));
    ctx.expect(created.length === 1, `${created.length} new model versions (${created.join(', ')}), expected exactly 1`);
    const train = (await activities(handle)).find((a) => a.type === 'trainModel');
    let path = '?';
    if (end.ok) {
      const resumed = Number(tagsOf(await stack.mlflow.getRun(end.result.runId))['lifecycle.training.resumed_from_epoch'] ?? NaN);
      // Finished on the draining worker (first attempt, no resume), or handed over (a later attempt resumed from a checkpoint).
      const finished = train?.attempt === 1 && Number.isNaN(resumed);
      const handedOver = (train?.attempt ?? 0) > 1 && resumed >= 1 && resumed < epochs;
      path = finished ? 'finished within the grace' : handedOver ? `handed over, resumed from epoch ${resumed}` : `neither (attempt ${train?.attempt}, resumed_from_epoch ${resumed})`;
      ctx.expect(finished || handedOver, `the training neither finished on the draining worker nor resumed from a checkpoint: ${path}`);
    }
    const orphans = await trainerProcesses(stack.stateDir);
    ctx.expect(orphans.length === 0, `trainer process(es) left running: ${orphans.join('; ')}`);
    expectCleanLoad(ctx, summary);
    ctx.note(`SIGTERM in epoch ${at?.epoch} step ${at?.step} (checkpoint: epoch ${at?.checkpoint?.epoch}); ${path}; ${victim.name} exited ${exitedMs} ms after SIGTERM (grace ${grace / 1000} s)`);
    return { load: summary, workflow: describeTraining(end), recoverMs: exitedMs, recoveredWhen: `worker exited within its grace; training ${path}` };
  },
};
