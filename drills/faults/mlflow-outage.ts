/**
 * Drill 9: the MLflow server stopped for 40 s during a promotion (from the moment the rollout
 * starts). The saga retries its MLflow steps through the outage and completes; serving, which
 * needs MLflow only to fetch new files, keeps answering meanwhile without a process restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, waitFor, type Drill } from '../drill';
import { describePromotion, ending, pendingActivities } from '../workflows';
import { expectVersions } from './common';
import { promoteCopyUnderLoad } from './promote-under-load';

const OUTAGE_MS = 40_000;

export const mlflowOutage: Drill = {
  name: 'mlflow-outage',
  fault: 'MLflow server stopped for 40 s during a promotion',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const serving = (await stack.processes()).filter((p) => /^(api|inference-worker)-/.test(p.name));
    const { old, next, load, startedAt, handle } = await promoteCopyUnderLoad(ctx, 'mlflow-outage');
    const rolling = await waitFor(async () => (await pendingActivities(handle)).some((a) => a.type === 'deployModel'), 5 * 60_000, 50);
    if (rolling === null) throw new Error('the rollout never started');
    await stack.ctl('stop', 'mlflow');
    const downAt = Date.now();
    ctx.log('MLflow stopped');
    ctx.defer('start MLflow again', () => stack.ensureRunning('mlflow'));
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    const upAt = Date.now();
    await stack.ctl('start', 'mlflow');
    ctx.log(`MLflow started again after ${((upAt - downAt) / 1000).toFixed(0)} s`);
    const end = await ending<PromoteVersionResult>(handle, 10 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && end.result.promoted, `the promotion did not complete: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    const servedDuringOutage = load.count((r) => r.outcome === 'ok' && r.startedAt >= downAt && r.endedAt <= upAt);
    ctx.expect(servedDuringOutage > 0, 'nothing was answered 200 while MLflow was down');
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    const now = await stack.processes();
    const restarted = serving.filter((p) => now.find((q) => q.name === p.name)?.pid !== p.pid).map((p) => p.name);
    ctx.expect(restarted.length === 0, `serving process(es) restarted during the outage: ${restarted.join(', ')}`);
    ctx.note(`${servedDuringOutage} answered 200 during the ${((upAt - downAt) / 1000).toFixed(0)} s outage`);
    return { load: summary, workflow: describePromotion(end), recoverMs: endedAt - upAt, recoveredWhen: 'workflow completed after MLflow returned' };
  },
};
