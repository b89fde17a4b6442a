/**
 * Redis restarted empty during the canary step of a progressive rollout.
 *
 * Never the stack's Redis (on this machine, the shared one): as in `redis-restart`, the drill runs a
 * redis-server of its own with a fleet of its own on it (an API, two inference workers), and here
 * also a pipeline worker of its own (own task queue) that runs the promotion, so everything of the
 * rollout that lives in Redis (the fleet's traffic entry, the workers' candidate, the rollout lease)
 * is lost together. The registry and Temporal are the stack's, as in production: the traffic plan
 * (a registry tag) and the workflow survive. Prometheus scrapes the drill's workers (a target file
 * of their own), so the analysis judges the fleet that is under the fault.
 *
 * Passes when: only 200 and 503 (with Retry-After) answers, none past the API's deadline, nothing
 * lost; the fleet's canary entry and the workers' candidate are rebuilt within seconds of Redis
 * returning; the rollout takes its vanished lease again; the workflow completes (promoted: the
 * candidate is a copy of the champion) and the version carries the evidence of both steps.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { RolloutLeases } from '../../lib/fleet/lease';
import { readTrafficState } from '../../lib/fleet/traffic-states';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef } from '../consistency';
import { waitFor, type Drill } from '../drill';
import { startApi, startPipelineWorker, startWorker } from '../extra-processes';
import { OwnRedis } from '../processes';
import { registerChampionCopy } from '../versions';
import { describePromotion, ending, startProgressivePromote } from '../workflows';
import { stamp } from './common';
import { answeredShare, drillRollout, expectRegistry, fleetInMode } from './progressive';

// Canary only, as in canary-pipeline-kill (a shadow step's latency criterion fails even an identical copy here).
const STEPS = 'canary:30%:25s:120s';
/** The canary entry and the workers' candidate must be back this soon after Redis returns. */
const REBUILT_WITHIN_MS = 15_000;

export const canaryRedisRestart: Drill = {
  name: 'canary-redis-restart',
  fault: 'Redis (the drill\'s own, with its own fleet and pipeline worker) restarted empty during a canary step',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const redis = await OwnRedis.start();
    ctx.defer('stop the drill\'s Redis', () => redis.kill());
    const prefix = `drill-canary-redis-${process.pid}:`;
    const queue = `drill-canary-redis-${process.pid}`;
    // Its own single Redis, also when the stack runs on a cluster (empty REDIS_CLUSTER_NODES: not inherited).
    const env = { REDIS_URL: redis.url, REDIS_CLUSTER_NODES: '', REDIS_PREFIX: prefix };
    const workers = [await startWorker(ctx, 'drill-canary-worker-1', env), await startWorker(ctx, 'drill-canary-worker-2', env)];
    const api = await startApi(ctx, `drill-canary-api-${process.pid}`, env);
    const pipeline = await startPipelineWorker(ctx, 'drill-canary-pipeline', { ...env, TASK_QUEUE: queue });
    const fleet = [...workers, api, pipeline];
    // Prometheus discovers targets/inference-worker.drill-*.json (infra/prometheus/prometheus.yml).
    const targets = join(stack.stateDir, 'prometheus', 'targets', `inference-worker.drill-${process.pid}.json`);
    writeFileSync(targets, JSON.stringify([{ targets: workers.map((w) => new URL(w.url).host) }]));
    ctx.defer('remove the Prometheus targets of the drill\'s workers', () => Promise.resolve(rmSync(targets, { force: true })));
    const own = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    await own.connect();
    ctx.defer('disconnect from the drill\'s Redis', () => Promise.resolve(own.disconnect()));
    const deadlineMs = Number(stack.processEnv(stack.ofKind('api')[0]!.name).REQUEST_TIMEOUT_MS ?? 10_000);

    const old = await championRef(stack);
    const next = await registerChampionCopy(stack, 'canary-redis-restart');
    const load = ctx.startLoad([api.url]);
    await ctx.settle();
    const startedAt = Date.now();
    const workflowId = `drill-canary-redis-restart-${stamp()}`;
    const handle = await startProgressivePromote(stack, workflowId, next.version, drillRollout(STEPS), queue);
    ctx.log(`own Redis on port ${redis.port}; promoting v${next.version} (copy of v${old.version}) progressively (${STEPS}) on task queue ${queue}`);
    if ((await fleetInMode(own, prefix, stack.modelName, workflowId, 'canary', 3 * 60_000, handle)) === null) throw new Error('the drill\'s fleet never carried the canary step within 3 min');

    await redis.kill();
    const downAt = Date.now();
    ctx.log('Redis killed during the canary step');
    await sleep(ctx.options.ci ? 3000 : 6000);
    await redis.start();
    const backAt = Date.now();
    ctx.log(`Redis restarted empty after ${((backAt - downAt) / 1000).toFixed(1)} s`);
    const canaryBack = await fleetInMode(own, prefix, stack.modelName, workflowId, 'canary', 30_000);
    // Rebuilt for the users: the candidate answers canary requests sent after Redis returned again.
    const candidateBack = await waitFor(() => Promise.resolve(load.records.some((r) => r.startedAt >= backAt && r.version === next.version)), 30_000, 100);
    // What the workers report (their status hash) is noted, not judged: it lags the serving (see README).
    const statusBack = await waitFor(async () => {
      const statuses = (await listWorkerStatuses(own, prefix)).filter((s) => s.models[stack.modelName]);
      return statuses.length === workers.length && statuses.every((s) => s.models[stack.modelName]?.candidate?.version === next.version && s.models[stack.modelName]?.candidate?.state === 'ready');
    }, 30_000, 100);
    const leases = new RolloutLeases(own, prefix);
    const leaseBack = await waitFor(async () => (await leases.holder(stack.modelName))?.deploymentId.startsWith(`${workflowId}/`) === true, 60_000, 200);
    const end = await ending<PromoteVersionResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    const rebuiltMs = Math.max(canaryBack ?? Infinity, candidateBack ?? Infinity);
    ctx.expect(canaryBack !== null && candidateBack !== null && rebuiltMs <= REBUILT_WITHIN_MS, `the canary was not rebuilt within ${REBUILT_WITHIN_MS / 1000} s of Redis returning (fleet entry ${canaryBack ?? 'never'} ms, first candidate answer ${candidateBack ?? 'never'} ms)`);
    ctx.expect(leaseBack !== null, 'the rollout did not take its vanished lease again');
    ctx.expect(end.ok && end.result.promoted, `the promotion did not complete: ${describePromotion(end)}`);
    ctx.expect((await championRef(stack)).version === next.version, `champion is not v${next.version}`);
    await expectRegistry(ctx, next.version, { outcome: 'promoted', minSteps: 1 });
    ctx.expect((await readTrafficState(own, prefix, stack.modelName)) === null, 'the drill\'s fleet still carries a traffic entry after the rollout');

    const statuses = Object.keys(summary.errors);
    ctx.expect(statuses.every((s) => s === '503'), `answers other than 200/503: ${statuses.filter((s) => s !== '503').join(', ')}`);
    const noRetryAfter = load.records.filter((r) => r.status === 503 && !r.retryAfter).length;
    ctx.expect(noRetryAfter === 0, `${noRetryAfter} 503 answer(s) without Retry-After`);
    ctx.expect(summary.lost === 0 && summary.connFailed === 0, `${summary.lost} lost and ${summary.connFailed} failed at the connection`);
    ctx.expect(summary.maxMs < deadlineMs + 1000, `a request took ${summary.maxMs} ms, past its ${deadlineMs} ms deadline`);
    const exited = fleet.filter((p) => p.proc.exited).map((p) => p.proc.name);
    ctx.expect(exited.length === 0, `process(es) exited: ${exited.join(', ')}`);
    for (const p of fleet.filter((f) => f.proc.exited)) ctx.note(`${p.proc.name} output before it exited:\n${p.proc.log().slice(-2000)}`);
    const canaryAfter = answeredShare(load.records, next.version, backAt + rebuiltMs, backAt + rebuiltMs + 5000);
    ctx.note(`Redis down ${((backAt - downAt) / 1000).toFixed(1)} s; ${summary.errors['503'] ?? 0} answered 503; canary entry back ${canaryBack} ms, first candidate answer ${candidateBack} ms, every worker reporting its candidate ready ${statusBack ?? 'never (30 s)'} ms after Redis, lease taken again after ${leaseBack} ms; v${next.version} then answered ${canaryAfter.candidate}/${canaryAfter.ok} in 5 s; workflow ${((endedAt - startedAt) / 1000).toFixed(1)} s`);
    return { load: summary, workflow: describePromotion(end), recoverMs: Number.isFinite(rebuiltMs) ? rebuiltMs : null, recoveredWhen: 'canary entry rebuilt and the candidate answering again after Redis returned' };
  },
};
