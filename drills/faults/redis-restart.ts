/**
 * Drill 3: Redis restarted empty under load. Never the machine's Redis: the drill runs a
 * redis-server of its own on a free port with a small fleet of its own on it (an API and two
 * inference workers, real processes with the stack's settings, the same MLflow and champion,
 * their own key prefix). During the outage requests must get 503 with Retry-After and none
 * may hang past its deadline; service must resume within seconds of Redis returning, rebuilt
 * from the registry, by the same processes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { readActiveModel } from '../../lib/fleet/active-models';
import { queueKeys } from '../../lib/queue/keys';
import { championRef } from '../consistency';
import type { Drill } from '../drill';
import { startApi, startWorker } from '../extra-processes';
import { OwnRedis } from '../processes';

/** Service must be back this soon after Redis returns. */
const RESUME_WITHIN_MS = 15_000;

export const redisRestart: Drill = {
  name: 'redis-restart',
  fault: 'Redis (the drill\'s own) restarted empty under load',
  ci: true,
  async run(ctx) {
    const redis = await OwnRedis.start();
    ctx.defer('stop the drill\'s Redis', () => redis.kill());
    // Its own single Redis, also when the stack runs on a cluster (empty REDIS_CLUSTER_NODES: not inherited).
    const env = { REDIS_URL: redis.url, REDIS_CLUSTER_NODES: '', REDIS_PREFIX: `drill-redis-${process.pid}:` };
    const workers = [await startWorker(ctx, 'drill-redis-worker-1', env), await startWorker(ctx, 'drill-redis-worker-2', env)];
    const api = await startApi(ctx, `drill-redis-api-${process.pid}`, env);
    const fleet = [...workers, api];
    const pids = fleet.map((p) => p.proc.pid);
    const deadlineMs = Number(ctx.stack.processEnv(ctx.stack.ofKind('api')[0]!.name).REQUEST_TIMEOUT_MS ?? 10_000);
    ctx.log(`own Redis on port ${redis.port}, fleet pids ${pids.join(' ')}`);

    const load = ctx.startLoad([api.url]);
    await ctx.settle();
    await redis.kill();
    const downAt = Date.now();
    ctx.log('Redis killed');
    await sleep(ctx.options.ci ? 3000 : 6000);
    await redis.start();
    const backAt = Date.now();
    ctx.log(`Redis restarted empty after ${((backAt - downAt) / 1000).toFixed(1)} s`);
    await load.okAfter(backAt, 20, 30_000);
    const firstOk = load.records.filter((r) => r.outcome === 'ok' && r.startedAt >= backAt).reduce((m, r) => Math.min(m, r.endedAt), Infinity);
    const resumedMs = Number.isFinite(firstOk) ? firstOk - backAt : null;
    await ctx.settle();
    const summary = await load.stop();

    const statuses = Object.keys(summary.errors);
    ctx.expect(statuses.every((s) => s === '503'), `answers other than 200/503 during the outage: ${statuses.filter((s) => s !== '503').join(', ')}`);
    for (const r of load.records.filter((x) => x.outcome !== 'ok' && x.status !== 503).slice(0, 5)) {
      ctx.note(`${r.status || r.error} ${r.code ?? ''}: sent ${((r.startedAt - downAt) / 1000).toFixed(2)} s after the kill (Redis back at ${((backAt - downAt) / 1000).toFixed(2)} s), answered after ${r.endedAt - r.startedAt} ms`);
    }
    const noRetryAfter = load.records.filter((r) => r.status === 503 && !r.retryAfter).length;
    ctx.expect(noRetryAfter === 0, `${noRetryAfter} 503 answer(s) without Retry-After`);
    ctx.expect((summary.errors['503'] ?? 0) > 0, 'no request got 503: the outage was not observed');
    ctx.expect(summary.lost === 0 && summary.connFailed === 0, `${summary.lost} lost and ${summary.connFailed} failed at the connection`);
    ctx.expect(summary.maxMs < deadlineMs + 1000, `a request took ${summary.maxMs} ms, past its ${deadlineMs} ms deadline`);
    ctx.expect(resumedMs !== null && resumedMs <= RESUME_WITHIN_MS, `service did not resume within ${RESUME_WITHIN_MS / 1000} s of Redis returning (${resumedMs ?? 'never'} ms)`);
    const restarted = fleet.filter((p) => p.proc.exited).map((p) => p.proc.name);
    ctx.expect(restarted.length === 0, `process(es) exited during the outage: ${restarted.join(', ')}`);
    for (const p of fleet.filter((f) => f.proc.exited)) ctx.note(`${p.proc.name} output before it exited:\n${p.proc.log().slice(-2000)}`);

    const champion = await championRef(ctx.stack);
    const ready = (await fetch(`${api.url}/readyz`).then((r) => r.json()).catch(() => null)) as { status?: string; model?: { version?: string }; workers?: number } | null;
    ctx.expect(ready?.status === 'ready' && ready.model?.version === champion.version && ready.workers === 2, `the drill's API is not ready on v${champion.version} with 2 workers: ${JSON.stringify(ready)}`);
    const own = new Redis(redis.url);
    try {
      if (ctx.problems.length > 0) {
        // Where a request went missing: the own Redis's queue, and what the workers said after Redis came back.
        const key = queueKeys(env.REDIS_PREFIX).requests(ctx.stack.modelName);
        const consumers = await own.xinfo('CONSUMERS', key, 'inference-workers').catch((e: Error) => e.message);
        ctx.note(`own Redis after the drill: ${await own.xlen(key)} queued; consumers ${JSON.stringify(consumers)}`);
        for (const w of workers) ctx.note(`${w.proc.name} after Redis returned: ${warnings(w.proc.log(), backAt)}`);
      }
      const active = await readActiveModel(own, env.REDIS_PREFIX, ctx.stack.modelName);
      ctx.expect(active?.version === champion.version, `the fleet's active version was not rebuilt from the registry (v${active?.version ?? 'none'})`);
    } finally {
      own.disconnect();
    }
    ctx.note(`Redis down ${((backAt - downAt) / 1000).toFixed(1)} s; ${summary.errors['503'] ?? 0} answered 503 with Retry-After; slowest answer ${summary.maxMs} ms (${load.count((r) => r.endedAt - r.startedAt > 2000)} over 2 s); same pids ${pids.join(' ')}`);
    return { load: summary, workflow: '-', recoverMs: resumedMs, recoveredWhen: 'first 200 after Redis returned (same processes)' };
  },
};

/** The log lines (pino JSON) of a process since `since`, as `+ms message: error`. */
function warnings(log: string, since: number): string {
  const lines = log.split('\n').flatMap((line) => {
    try {
      const j = JSON.parse(line) as { time: number; msg: string; err?: { message?: string } };
      return j.time >= since ? [`+${j.time - since} ms ${j.msg}${j.err?.message ? `: ${j.err.message}` : ''}`] : [];
    } catch {
      return [];
    }
  });
  return lines.slice(0, 10).join(' | ') || '(nothing logged)';
}
