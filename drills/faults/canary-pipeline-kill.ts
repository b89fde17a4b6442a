/**
 * kill -9 of the pipeline worker during the canary step of a progressive rollout. The candidate
 * is a copy of the champion (it passes every criterion), so the decision is known: promoted.
 * supervisord restarts the worker; the workflow's durable timers and history let it resume the
 * step where it was (the traffic plan is in the registry, the fleet keeps serving it meanwhile)
 * and reach that same decision. No request may fail; afterwards alias, fleet and workers agree
 * (the runner's consistency check) and the version carries the evidence of both steps.
 */
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { registerChampionCopy } from '../versions';
import { describePromotion, ending, pendingActivities, pidOfIdentity, startProgressivePromote } from '../workflows';
import { backUnderNewPid, expectVersions, signalNow, stamp } from './common';
import { answeredShare, drillRollout, expectRegistry, fleetInMode } from './progressive';

// The canary step outlasts the restart (supervisord + Temporal worker start, ~10-20 s on 2 cores).
// Canary only: the subject is the kill, and a shadow step's latency criterion fails even an identical
// copy on this 2-core machine (the candidate's follow-up runs measure ~5x slower; see README).
const STEPS = 'canary:30%:20s:120s';

export const canaryPipelineKill: Drill = {
  name: 'canary-pipeline-kill',
  fault: 'kill -9 of the pipeline worker during the canary step of a progressive rollout',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const pipelineWorkers = (await stack.processes()).filter((p) => p.name.startsWith('pipeline-worker-'));
    const old = await championRef(stack);
    const next = await registerChampionCopy(stack, 'canary-pipeline-kill');
    const load = ctx.startLoad();
    await ctx.settle();
    const startedAt = Date.now();
    const workflowId = `drill-canary-pipeline-kill-${stamp()}`;
    const handle = await startProgressivePromote(stack, workflowId, next.version, drillRollout(STEPS));
    ctx.log(`promoting v${next.version} (copy of v${old.version}) progressively (${STEPS})`);
    const canaryAfter = await fleetInMode(stack.redis, stack.prefix, stack.modelName, workflowId, 'canary', 3 * 60_000, handle);
    if (canaryAfter === null) throw new Error(`the fleet never carried the canary step within 3 min: ${describePromotion(await ending<PromoteVersionResult>(handle, 1000))}`);
    // The worker that ran the workflow's latest activity; with one pipeline worker, that one.
    const pending = await pendingActivities(handle);
    const pid = pidOfIdentity(pending[0]?.identity ?? '');
    const victim = pipelineWorkers.find((p) => p.pid === pid) ?? pipelineWorkers[0]!;
    signalNow(ctx, victim, 'SIGKILL');
    const killedAt = Date.now();
    ctx.note(`killed ${((killedAt - startedAt) / 1000).toFixed(1)} s into the rollout, with the fleet in canary (pending: ${pending.map((a) => `${a.type}#${a.attempt}`).join(', ') || 'none, between analyses'})`);
    const back = await backUnderNewPid(ctx, victim, 90_000);
    ctx.expect(back !== null, `${victim.name} was not restarted and ready within 90 s`);
    const end = await ending<PromoteVersionResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && end.result.promoted, `the promotion did not reach its decision (promoted): ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    await expectRegistry(ctx, next.version, { outcome: 'promoted', minSteps: 1 });
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    const canary = answeredShare(load.records, next.version, killedAt, killedAt + 10_000);
    ctx.note(`${victim.name} back in ${back} ms; in the 10 s after the kill v${next.version} answered ${canary.candidate}/${canary.ok}; workflow completed ${((endedAt - killedAt) / 1000).toFixed(1)} s after the kill`);
    return { load: summary, workflow: describePromotion(end), recoverMs: endedAt - killedAt, recoveredWhen: 'workflow completed on the restarted worker with the same decision (promoted)' };
  },
};
