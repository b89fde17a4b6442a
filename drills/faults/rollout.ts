/**
 * Drill 5: a rollout under load through the real promoteVersion workflow. The drill registers
 * a copy of the champion (same file and metrics, so the gate ties and --force promotes it).
 * No request may fail; answers before the promotion name the old version, after it the new
 * one, during it only those two; at the end alias, fleet and every worker agree (checked by
 * the runner after every drill).
 */
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { describePromotion, ending } from '../workflows';
import { expectVersions } from './common';
import { promoteCopyUnderLoad } from './promote-under-load';

export const rollout: Drill = {
  name: 'rollout',
  fault: 'rollout of a new version under load (promoteVersion --force)',
  ci: true,
  async run(ctx) {
    const { old, next, load, startedAt, handle } = await promoteCopyUnderLoad(ctx, 'rollout');
    ctx.log(`promoting v${next.version} (copy of v${old.version})`);
    const end = await ending<PromoteVersionResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    ctx.expect(end.ok && end.result.promoted, `the promotion did not complete: ${describePromotion(end)}`);
    ctx.expect((await championRef(ctx.stack)).version === next.version, `champion is not v${next.version}`);
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: old.version, after: next.version, allowed: [old.version, next.version] }, startedAt, endedAt);
    return { load: summary, workflow: describePromotion(end), recoverMs: endedAt - startedAt, recoveredWhen: 'promotion completed (alias, fleet and workers on the new version)' };
  },
};
