/**
 * Drill 6: a rollout whose golden check fails on the second worker. The drill starts one extra
 * inference worker whose id sorts second (a rollout moves workers in id order) with
 * drills/faulty-inference-worker.ts (DRILL_FAIL_GOLDEN_CHECK) naming the new version. The workflow must report the failure, the
 * first worker must go back, the alias must stay, and no request may fail.
 */
import { getWorkerStatus } from '../../lib/fleet/worker-statuses';
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef, plannedWorkerIds } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { startWorker, type Started } from '../extra-processes';
import { describePromotion, ending } from '../workflows';
import { expectVersions } from './common';
import { promoteCopyUnderLoad } from './promote-under-load';

export const badRollout: Drill = {
  name: 'bad-rollout',
  fault: 'rollout whose golden check fails on the second worker',
  ci: true,
  async run(ctx) {
    const { stack } = ctx;
    const first = plannedWorkerIds(stack)[0]!;
    const faultyId = `${first}-drill`;
    let faulty: Started | undefined;
    const { old, next, load, startedAt, handle } = await promoteCopyUnderLoad(ctx, 'bad-rollout', async (copy) => {
      faulty = await startWorker(ctx, faultyId, { DRILL_FAIL_GOLDEN_CHECK: `${stack.modelName}@${copy.version}` }, 'drills/faulty-inference-worker');
      ctx.log(`registered v${copy.version}; ${faultyId} (pid ${faulty.proc.pid}) fails its golden check`);
    });
    const end = await ending<PromoteVersionResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(!end.ok && /GOLDEN_CHECK_FAILED/.test(end.error), `the workflow did not fail on the golden check: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === old.version, `the champion alias moved off v${old.version}`);
    const firstStatus = await getWorkerStatus(stack.redis, stack.prefix, first);
    const served = firstStatus?.models[stack.modelName];
    ctx.expect(served?.version === old.version && served?.state === 'ready', `${first} is not back on v${old.version}: ${JSON.stringify(served)}`);
    ctx.expect(served?.deploymentId?.endsWith('-rollback') === true, `${first} was not moved and rolled back (last deployment ${served?.deploymentId ?? 'none'})`);
    const faultyStatus = (await getWorkerStatus(stack.redis, stack.prefix, faultyId))?.models[stack.modelName];
    ctx.expect(faultyStatus?.version === old.version, `${faultyId} serves v${faultyStatus?.version}, not v${old.version}`);
    ctx.note(`${faultyId} after the rollback: v${faultyStatus?.version} ${faultyStatus?.state}`);
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: old.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    await faulty?.proc.stop();
    ctx.log(`${faultyId} stopped`);
    if (!end.ok) ctx.note(`workflow error: ${end.error}`);
    const workflow = !end.ok && /GOLDEN_CHECK_FAILED/.test(end.error) ? `failed: GOLDEN_CHECK_FAILED on ${faultyId}; rolled back, champion stays v${old.version}` : describePromotion(end);
    return { load: summary, workflow, recoverMs: endedAt - startedAt, recoveredWhen: 'workflow failed and every worker back on the champion' };
  },
};
