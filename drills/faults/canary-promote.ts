/**
 * A sound candidate goes all the way. A copy of the champion (it agrees with it on every image) is
 * promoted progressively, shadow 100% then canary 30%, under load: every step's analysis must pass,
 * the full rollout follows, the alias moves exactly once, the evidence of both steps is on the
 * version, no request fails, and alias, fleet and workers agree afterwards (the runner's check).
 */
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { registerChampionCopy } from '../versions';
import { describePromotion, ending, startProgressivePromote } from '../workflows';
import { expectVersions, stamp } from './common';
import { drillRollout, expectRegistry } from './progressive';

const STEPS = 'shadow:100%:10s:60s,canary:30%:10s:60s';

export const canaryPromote: Drill = {
  name: 'canary-promote',
  fault: 'none: a copy of the champion promoted progressively (shadow, canary, full) under load',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const old = await championRef(stack);
    const next = await registerChampionCopy(stack, 'canary-promote');
    const load = ctx.startLoad();
    await ctx.settle();
    const startedAt = Date.now();
    const workflowId = `drill-canary-promote-${stamp()}`;
    const handle = await startProgressivePromote(stack, workflowId, next.version, drillRollout(STEPS));
    ctx.log(`promoting v${next.version} (copy of v${old.version}) progressively (${STEPS})`);
    const end = await ending<PromoteVersionResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && end.result.promoted, `v${next.version} did not go all the way: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    await expectRegistry(ctx, next.version, { outcome: 'promoted', minSteps: 2 });
    const events = (await handle.fetchHistory()).events ?? [];
    const aliasMoves = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'moveChampionAlias').length;
    ctx.expect(aliasMoves === 1, `the alias was moved ${aliasMoves} times, not once`);
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    ctx.note(`promoted in ${((endedAt - startedAt) / 1000).toFixed(1)} s through ${STEPS}`);
    return { load: summary, workflow: describePromotion(end), recoverMs: null, recoveredWhen: '-' };
  },
};
