/** Steps several drills share: kill a supervised process, wait for supervisord to bring it back, judge the versions answers named. */
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { championRef } from '../consistency';
import { waitFor, type DrillContext } from '../drill';
import type { RequestRecord } from '../load';
import type { StackProcess } from '../stack';

/** Sends `signal` to a supervised process of the stack, looked up now; returns what it was before. */
export async function signalProcess(ctx: DrillContext, target: string | StackProcess, signal: NodeJS.Signals): Promise<StackProcess> {
  const before = typeof target === 'string' ? await ctx.stack.process(target) : target;
  signalNow(ctx, before, signal);
  return before;
}

/** Sends `signal` at once to a process as seen earlier (when timing matters: a status lookup takes a few hundred ms). */
export function signalNow(ctx: DrillContext, before: StackProcess, signal: NodeJS.Signals): void {
  if (before.state !== 'RUNNING' || !before.pid) throw new Error(`${before.name} is ${before.state}, not RUNNING`);
  process.kill(before.pid, signal);
  ctx.log(`${signal} -> ${before.name} (pid ${before.pid})`);
}

/** Waits until supervisord runs `name` again under a new pid (and, for an app process, it answers ready). Returns ms or null. */
export async function backUnderNewPid(ctx: DrillContext, before: StackProcess, timeoutMs: number): Promise<number | null> {
  const planned = ctx.stack.plan.find((p) => p.name === before.name);
  const champion = planned?.kind === 'inference-worker' ? await championRef(ctx.stack) : null;
  const workerId = planned?.kind === 'inference-worker' ? (ctx.stack.processEnv(planned.name).WORKER_ID ?? planned.name) : null;
  return waitFor(async () => {
    const now = await ctx.stack.process(before.name);
    if (now.state !== 'RUNNING' || now.pid === before.pid) return false;
    if (planned && (await fetch(planned.ready, { signal: AbortSignal.timeout(2000) })).status !== 200) return false;
    if (!workerId || !champion) return true;
    // An inference worker counts as back when the fleet sees it ready on the champion.
    const status = (await listWorkerStatuses(ctx.stack.redis, ctx.stack.prefix)).find((s) => s.workerId === workerId);
    const served = status?.models[ctx.stack.modelName];
    return status?.state === 'ready' && served?.state === 'ready' && served.version === champion.version;
  }, timeoutMs, 250);
}

/**
 * Answers around a change at [startedAt, endedAt]: every 200 names one of `allowed`; those answered
 * before the change began name `before`; those sent after it ended name `after`.
 */
export function expectVersions(
  ctx: DrillContext,
  records: RequestRecord[],
  v: { before: string; after: string; allowed: string[] },
  startedAt: number,
  endedAt: number,
): void {
  const ok = records.filter((r) => r.outcome === 'ok');
  const names = (rs: RequestRecord[]) => [...new Set(rs.map((r) => `v${r.version}`))].join(', ');
  const other = ok.filter((r) => !v.allowed.includes(r.version ?? ''));
  ctx.expect(other.length === 0, `${other.length} answer(s) named ${names(other)}, expected only ${v.allowed.map((x) => `v${x}`).join(' or ')}`);
  const before = ok.filter((r) => r.endedAt < startedAt);
  const wrongBefore = before.filter((r) => r.version !== v.before);
  ctx.expect(wrongBefore.length === 0, `${wrongBefore.length} answer(s) before the change named ${names(wrongBefore)}, not v${v.before}`);
  const after = ok.filter((r) => r.startedAt > endedAt);
  const wrongAfter = after.filter((r) => r.version !== v.after);
  ctx.expect(wrongAfter.length === 0, `${wrongAfter.length} answer(s) after the change named ${names(wrongAfter)}, not v${v.after}`);
  ctx.expect(before.length > 0 && after.length > 0, `too few answers to judge versions (${before.length} before, ${after.length} after the change)`);
  const during = ok.filter((r) => r.endedAt >= startedAt && r.startedAt <= endedAt);
  const byVersion = v.allowed.map((x) => `v${x}: ${during.filter((r) => r.version === x).length}`).join(', ');
  ctx.note(`answers: ${before.length} before (v${v.before}), ${during.length} during (${byVersion}), ${after.length} after (v${v.after})`);
}

export const stamp = (): string => new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
