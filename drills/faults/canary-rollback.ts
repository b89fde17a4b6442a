/**
 * Progressive delivery catches a bad model on live traffic. The drill registers an untrained
 * version (random weights: its answers disagree with the champion's) and promotes it with
 * `--force` (the offline gate is skipped, never the live analysis) in short steps under load.
 * The analysis must roll it back on its own: the alias never moves, the version is tagged
 * rolled-back with its evidence, it answered no more than its canary share (plus 2 points) of
 * the requests, and no request failed.
 */
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { registerUntrainedVersion } from '../versions';
import { describePromotion, ending, startProgressivePromote } from '../workflows';
import { stamp } from './common';
import { answeredShare, drillRollout, expectRegistry } from './progressive';

const STEPS = 'shadow:100%:10s:30s,canary:30%:10s:30s';
const CANARY_SHARE = 0.3;

export const canaryRollback: Drill = {
  name: 'canary-rollback',
  fault: 'an untrained version promoted progressively (--force) under load',
  // canary-inverted covers this in CI with a model that also passes the offline gate.
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const old = await championRef(stack);
    const bad = await registerUntrainedVersion(stack, 'canary-rollback');
    const load = ctx.startLoad();
    await ctx.settle();
    const startedAt = Date.now();
    const workflowId = `drill-canary-rollback-${stamp()}`;
    const handle = await startProgressivePromote(stack, workflowId, bad.version, drillRollout(STEPS));
    ctx.log(`promoting untrained v${bad.version} progressively (${STEPS}) over champion v${old.version}`);
    const end = await ending<PromoteVersionResult>(handle, 3 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && !end.result.promoted && end.result.rolledBack === true, `the analysis did not roll v${bad.version} back: ${describePromotion(end)}`);
    if (end.ok && end.result.rollout?.reason) ctx.note(`rolled back: ${end.result.rollout.reason}`);
    ctx.expect((await championRef(stack)).version === old.version, `the champion alias moved off v${old.version}`);
    await expectRegistry(ctx, bad.version, { outcome: 'rolled-back', minSteps: 1 });
    expectCleanLoad(ctx, summary);
    const during = answeredShare(load.records, bad.version, startedAt, endedAt);
    ctx.expect(during.share <= CANARY_SHARE + 0.02, `v${bad.version} answered ${(100 * during.share).toFixed(1)}% of requests, above its canary share ${100 * CANARY_SHARE}% + 2 points`);
    const after = answeredShare(load.records, bad.version, endedAt, Infinity);
    ctx.expect(after.candidate === 0, `${after.candidate} request(s) sent after the rollback were answered by v${bad.version}`);
    ctx.note(`during the rollout v${bad.version} answered ${during.candidate}/${during.ok} (${(100 * during.share).toFixed(1)}%); workflow ${((endedAt - startedAt) / 1000).toFixed(1)} s`);
    return { load: summary, workflow: describePromotion(end), recoverMs: endedAt - startedAt, recoveredWhen: 'the analysis rolled the candidate back (traffic cleared, every worker on the champion)' };
  },
};
