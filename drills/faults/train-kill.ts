/**
 * Drill 7: kill -9 of the training worker in the middle of a training (trainAndPromote on
 * dataset v1 with a few epochs), right after the first epoch's checkpoint reached the activity's
 * heartbeat. supervisord restarts the worker, Temporal retries the activity after its heartbeat
 * timeout, the retry resumes from the checkpoint, and the workflow completes with exactly one
 * new model version. The killed worker's trainer process must not be left running.
 */
import type { TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { tagsOf } from '../../lib/mlflow/client';
import { waitFor, type Drill, type DrillContext } from '../drill';
import { versionNumbers } from '../versions';
import { describeTraining, ending, pendingActivities, pidOfIdentity, smallTraining, startTrain } from '../workflows';
import { backUnderNewPid, signalProcess, stamp } from './common';
import { trainerProcesses } from './trainer-processes';

interface Beat {
  epoch?: number;
  checkpoint?: { epoch?: number } | null;
  resumedFromEpoch?: number | null;
}

/** Which supervised training worker runs the workflow's trainModel (by the pid in its Temporal identity). */
async function trainingWorkerOf(ctx: DrillContext, identity: string): Promise<string> {
  const pid = pidOfIdentity(identity);
  const workers = (await ctx.stack.processes()).filter((p) => p.name.startsWith('training-worker-'));
  return workers.find((p) => p.pid === pid)?.name ?? workers[0]!.name;
}

export const trainKill: Drill = {
  name: 'train-kill',
  fault: 'kill -9 of the training worker mid-training',
  ci: true,
  async run(ctx) {
    const { stack } = ctx;
    const before = new Set(await versionNumbers(stack));
    const workflowId = `drill-train-kill-${stamp()}`;
    // Three epochs in CI too: with two, a busy machine delivered the first checkpoint's heartbeat so late that the
    // kill landed after the last epoch's checkpoint, and the resumed run had nothing left to resume mid-way.
    const epochs = 3;
    const load = ctx.startLoad();
    const handle = await startTrain(stack, workflowId, smallTraining(epochs));
    ctx.log(`trainAndPromote ${workflowId}: waiting for the first epoch's checkpoint in a heartbeat`);
    let identity = '';
    let beat: Beat | null = null;
    const checkpointed = await waitFor(async () => {
      const train = (await pendingActivities(handle)).find((a) => a.type === 'trainModel');
      identity = train?.identity ?? '';
      beat = (train?.details as Beat | null) ?? null;
      return (beat?.checkpoint?.epoch ?? 0) >= 1;
    }, 10 * 60_000, 100);
    if (checkpointed === null) throw new Error('no checkpoint appeared in the training heartbeat within 10 min');
    const victim = await signalProcess(ctx, await trainingWorkerOf(ctx, identity), 'SIGKILL');
    ctx.note(`killed in epoch ${(beat as Beat | null)?.epoch ?? '?'} of ${epochs}, last checkpoint in the heartbeat: epoch ${(beat as Beat | null)?.checkpoint?.epoch}`);
    const killedAt = Date.now();
    const back = await backUnderNewPid(ctx, victim, 90_000);
    ctx.expect(back !== null, `${victim.name} was not restarted and ready within 90 s`);
    let resumedAt: number | null = null;
    const end = await Promise.all([
      ending<TrainAndPromoteResult>(handle, 15 * 60_000),
      waitFor(async () => {
        const train = (await pendingActivities(handle)).find((a) => a.type === 'trainModel');
        if (((train?.details as Beat | null)?.resumedFromEpoch ?? 0) >= 1) resumedAt ??= Date.now();
        return resumedAt !== null || train === undefined;
      }, 15 * 60_000, 250),
    ]).then(([e]) => e);
    const summary = await load.stop();

    ctx.expect(end.ok, `the workflow did not complete: ${describeTraining(end)}`);
    const created = (await versionNumbers(stack)).filter((v) => !before.has(v));
    ctx.expect(created.length === 1, `${created.length} new model versions (${created.join(', ')}), expected exactly 1`);
    if (end.ok) {
      const run = await stack.mlflow.getRun(end.result.runId);
      const resumed = tagsOf(run)['lifecycle.training.resumed_from_epoch'];
      ctx.expect(Number(resumed) >= 1 && Number(resumed) < epochs, `the training did not resume mid-way from a checkpoint (resumed_from_epoch ${resumed} of ${epochs})`);
      ctx.note(`resumed from epoch ${resumed}; ${victim.name} back in ${back} ms`);
    }
    const orphans = await trainerProcesses(stack.stateDir);
    ctx.expect(orphans.length === 0, `trainer process(es) left running: ${orphans.join('; ')}`);
    ctx.expect(summary.lost === 0 && summary.connFailed === 0 && Object.keys(summary.errors).length === 0, 'serving failed requests during the drill');
    return {
      load: summary,
      workflow: describeTraining(end),
      recoverMs: resumedAt === null ? null : resumedAt - killedAt,
      recoveredWhen: 'training resumed from its checkpoint on the restarted worker',
    };
  },
};
