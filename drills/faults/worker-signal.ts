/**
 * Drills 1 and 2: an inference worker of the stack killed (SIGKILL: no goodbye, its pending
 * requests are reclaimed by a live worker) or stopped (SIGTERM: it drains) under load.
 * Nothing may be lost or fail, and supervisord must bring the fleet back to full size.
 */
import { expectCleanLoad, type Drill } from '../drill';
import { backUnderNewPid, signalProcess } from './common';

function workerSignal(name: string, signal: NodeJS.Signals, fault: string, ci: boolean): Drill {
  return {
    name,
    fault,
    ci,
    async run(ctx) {
      const victim = ctx.stack.ofKind('inference-worker')[0]!;
      const load = ctx.startLoad();
      await ctx.settle();
      const before = await signalProcess(ctx, victim.name, signal);
      const back = await backUnderNewPid(ctx, before, 90_000);
      ctx.expect(back !== null, `${victim.name} was not back (restarted and ready on the champion) within 90 s`);
      await ctx.settle();
      const summary = await load.stop();
      expectCleanLoad(ctx, summary);
      return { load: summary, workflow: '-', recoverMs: back, recoveredWhen: `${victim.name} restarted by supervisord and ready on the champion` };
    },
  };
}

export const workerKill = workerSignal('worker-kill', 'SIGKILL', 'kill -9 of an inference worker under load', true);
export const workerTerm = workerSignal('worker-term', 'SIGTERM', 'SIGTERM of an inference worker under load (drain)', false);
