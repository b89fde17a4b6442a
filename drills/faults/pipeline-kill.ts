/**
 * Drill 8: kill -9 of the pipeline worker in the middle of a rollout (its deployModel activity
 * has started moving workers). supervisord restarts it, Temporal retries the activity on it
 * (after the rollout heartbeat timeout), the rollout continues under the same lease, and at the
 * end alias, fleet and workers agree. No request may fail meanwhile.
 */
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { describePromotion, ending, pendingActivities, pidOfIdentity } from '../workflows';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { backUnderNewPid, expectVersions, signalNow } from './common';
import { promoteCopyUnderLoad, rolloutUnderWay } from './promote-under-load';

export const pipelineKill: Drill = {
  name: 'pipeline-kill',
  fault: 'kill -9 of the pipeline worker in the middle of a rollout',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    // Looked up beforehand: the rollout of a cached file takes about a second, no time for a status call.
    const pipelineWorkers = (await stack.processes()).filter((p) => p.name.startsWith('pipeline-worker-'));
    const { old, next, load, startedAt, workflowId, handle } = await promoteCopyUnderLoad(ctx, 'pipeline-kill');
    // Mid-rollout: a worker has received this promotion's deploy command (deployModel is waiting on it).
    await rolloutUnderWay(ctx, workflowId);
    const deploy = (await pendingActivities(handle)).find((a) => a.type === 'deployModel');
    const pid = pidOfIdentity(deploy?.identity ?? '');
    const victim = pipelineWorkers.find((p) => p.pid === pid) ?? pipelineWorkers[0]!;
    signalNow(ctx, victim, 'SIGKILL');
    const killedAt = Date.now();
    ctx.note(`killed while deployModel ran (attempt ${deploy?.attempt ?? '?'}, ${deploy ? 'pending' : 'not seen pending'}); workers then: ${(await listWorkerStatuses(stack.redis, stack.prefix)).map((s) => `${s.workerId} v${s.models[stack.modelName]?.version} ${s.models[stack.modelName]?.state}`).join(', ')}`);
    const back = await backUnderNewPid(ctx, victim, 90_000);
    ctx.expect(back !== null, `${victim.name} was not restarted and ready within 90 s`);
    const end = await ending<PromoteVersionResult>(handle, 10 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && end.result.promoted, `the promotion did not complete: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    ctx.note(`${victim.name} back in ${back} ms; workflow completed ${((endedAt - killedAt) / 1000).toFixed(1)} s after the kill`);
    return { load: summary, workflow: describePromotion(end), recoverMs: endedAt - killedAt, recoveredWhen: 'workflow completed on the restarted worker, alias and fleet agree' };
  },
};
