/**
 * Drill 10: the Temporal dev server restarted (its SQLite database file kept) while a training
 * runs. Workflow state lives in that database; the workers and the drill's client reconnect,
 * the training activity reports in again, and the workflow completes with one new version.
 */
import type { TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { waitFor, type Drill } from '../drill';
import { stackctl } from '../stack';
import { versionNumbers } from '../versions';
import { describeTraining, ending, pendingActivities, smallTraining, startTrain } from '../workflows';
import { stamp } from './common';

export const temporalRestart: Drill = {
  name: 'temporal-restart',
  fault: 'Temporal dev server restarted (database kept) during training',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const before = new Set(await versionNumbers(stack));
    const workers = (await stack.processes()).filter((p) => /^(pipeline|training)-worker-/.test(p.name));
    const load = ctx.startLoad();
    const handle = await startTrain(stack, `drill-temporal-restart-${stamp()}`, smallTraining(3));
    let beat: { phase?: string; epoch?: number } | null = null;
    const training = await waitFor(async () => {
      const train = (await pendingActivities(handle)).find((a) => a.type === 'trainModel');
      beat = (train?.details as typeof beat) ?? null;
      return beat?.phase === 'training';
    }, 10 * 60_000, 250);
    if (training === null) throw new Error('the training never started');
    const restartAt = Date.now();
    await stack.ctl('restart', 'temporal');
    const answering = await waitFor(async () => {
      await stackctl(['ping', 'temporal']);
      return true;
    }, 60_000, 500);
    ctx.expect(answering !== null, 'the Temporal server did not answer within 60 s of its restart');
    const back = answering === null ? 'never' : `${((Date.now() - restartAt) / 1000).toFixed(1)} s`;
    ctx.log(`Temporal restarted; answering after ${back}`);
    const epoch = (beat as { epoch?: number } | null)?.epoch;
    ctx.note(`restarted while training (${epoch === undefined ? 'first epoch under way' : `epoch ${epoch} of 3`}, as last heartbeated); the server answered again after ${back}`);
    const end = await ending<TrainAndPromoteResult>(handle, 15 * 60_000);
    const endedAt = Date.now();
    const summary = await load.stop();

    ctx.expect(end.ok, `the workflow did not complete: ${describeTraining(end)}`);
    const created = (await versionNumbers(stack)).filter((v) => !before.has(v));
    ctx.expect(created.length === 1, `${created.length} new model versions (${created.join(', ')}), expected exactly 1`);
    ctx.expect(summary.lost === 0 && summary.connFailed === 0 && Object.keys(summary.errors).length === 0, 'serving failed requests during the drill');
    const now = await stack.processes();
    const restarted = workers.filter((p) => now.find((q) => q.name === p.name)?.pid !== p.pid).map((p) => p.name);
    if (restarted.length > 0) ctx.note(`restarted by supervisord while Temporal was away: ${restarted.join(', ')}`);
    return { load: summary, workflow: describeTraining(end), recoverMs: endedAt - restartAt, recoveredWhen: 'workflow completed after the restart' };
  },
};
