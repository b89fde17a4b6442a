/**
 * Network partitions across real (namespaced) hosts: a process of the stack's kind runs on a host
 * of its own, linked to the stack's Redis and MLflow through the drill's bridge, so the fault is a
 * network one (packets dropped, nothing reset), not a killed process.
 * - worker-partition: an inference worker host loses its link under load. Its entries must be
 *   reclaimed by the stack's workers (nothing lost), and once the link is back it must serve
 *   again without a restart.
 * - api-partition: an API host loses its route to Redis under load. Requests must get 503 with
 *   Retry-After, none may hang past the deadline, and service must resume when the route is back.
 * Where `ip netns` is not allowed (not root, a restricted container) the drills say so and pass.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { fleetKeys } from '../../lib/fleet/protocol';
import { HostNetwork, netnsUnavailable } from '../host-network';
import { expectCleanLoad, waitFor, type Drill, type DrillContext, type DrillReport } from '../drill';
import { DrillProcess } from '../processes';
import { ROOT } from '../stack';

/** A process of the stack's `kind` on `host`, reaching Redis and MLflow through forwarders on the bridge. */
async function startOnHost(ctx: DrillContext, net: HostNetwork, host: string, kind: 'inference-worker' | 'api', env: Record<string, string>) {
  const base = ctx.stack.processEnv(ctx.stack.ofKind(kind)[0]!.name);
  const redisPort = await net.forward(Number(new URL(base.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379));
  const mlflowPort = base.MLFLOW_TRACKING_URI ? await net.forward(Number(new URL(base.MLFLOW_TRACKING_URI).port || 80)) : null;
  const entry = kind === 'api' ? 'api/server.ts' : 'workers/inference-worker.ts';
  const proc = DrillProcess.spawn(host, 'ip', net.exec(host, [process.execPath, '--import', 'tsx', `${ROOT}/${entry}`]).slice(1), {
    ...base,
    REDIS_URL: `redis://${net.serviceIp}:${redisPort}`,
    ...(mlflowPort ? { MLFLOW_TRACKING_URI: `http://${net.serviceIp}:${mlflowPort}` } : {}),
    LOG_LEVEL: 'warn',
    ...env,
  });
  ctx.defer(`stop ${host}`, () => proc.stop(10_000));
  return proc;
}

/**
 * Why the partition drills cannot run here, or null. They reach the stack's Redis through one forwarded
 * address; a cluster client follows the nodes' own addresses, which a drill host cannot reach.
 */
function cannotPartition(ctx: DrillContext): string | null {
  return netnsUnavailable() ?? (ctx.stack.env.REDIS_CLUSTER_NODES ? 'the stack runs on a Redis Cluster (REDIS_CLUSTER_NODES); these drills forward one Redis address' : null);
}

function notRun(ctx: DrillContext, reason: string): DrillReport {
  ctx.note(`not run: ${reason}`);
  return { load: null, workflow: '-', recoverMs: null, recoveredWhen: 'not run' };
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(2000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

export const workerPartition: Drill = {
  name: 'worker-partition',
  fault: 'an inference worker host cut off the network under load, then healed',
  ci: true,
  async run(ctx) {
    const why = cannotPartition(ctx);
    if (why) return notRun(ctx, why);
    const net = HostNetwork.create(['wp']);
    ctx.defer('remove the drill hosts', () => Promise.resolve(net.destroy()));
    const workerId = `partitioned-worker-${process.pid}`;
    const host = net.host('wp');
    const metrics = `http://${host.ip}:9101`;
    const proc = await startOnHost(ctx, net, 'wp', 'inference-worker', { WORKER_ID: workerId, METRICS_HOST: host.ip, METRICS_PORT: '9101' });
    const ready = await waitFor(async () => (await fetch(`${metrics}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, 90_000);
    if (ready === null) throw new Error(`the worker on its own host did not become ready:\n${proc.log().slice(-2000)}`);

    const load = ctx.startLoad();
    const took = await waitFor(async () => (await metric(`${metrics}/metrics`, 'lifecycle_inference_requests_processed_total')) > 0, 30_000);
    ctx.expect(took !== null, 'the worker on its own host never took a request (the drill would prove nothing)');
    net.cut('wp');
    const cutAt = Date.now();
    ctx.log(`${workerId}'s link is down`);
    const expired = await waitFor(async () => (await ctx.stack.redis.exists(fleetKeys(ctx.stack.prefix).workerStatus(workerId))) === 0, 30_000);
    ctx.expect(expired !== null, `${workerId}'s liveness did not expire within 30 s of losing its link`);
    await sleep(ctx.options.ci ? 2000 : 8000);
    net.heal('wp');
    const healedAt = Date.now();
    ctx.log(`link back after ${((healedAt - cutAt) / 1000).toFixed(1)} s`);
    // Read with retries: the first request over a link that just came back can fail (a fresh CI run saw "fetch failed" here).
    let before = Infinity;
    const reached = await waitFor(async () => {
      before = await metric(`${metrics}/metrics`, 'lifecycle_inference_requests_processed_total');
      return true;
    }, 30_000);
    ctx.expect(reached !== null, `${workerId}'s metrics were unreachable for 30 s after its link came back`);
    const back = await waitFor(async () => (await metric(`${metrics}/metrics`, 'lifecycle_inference_requests_processed_total')) > before, 60_000);
    ctx.expect(back !== null, `${workerId} did not serve again within 60 s of its link coming back`);
    ctx.expect(!proc.exited, `${workerId} exited: it should have rejoined without a restart`);
    await ctx.settle();
    const summary = await load.stop();
    expectCleanLoad(ctx, summary);
    return { load: summary, workflow: '-', recoverMs: back === null ? null : Date.now() - healedAt, recoveredWhen: 'the healed worker answered requests again (same process)' };
  },
};

export const apiPartition: Drill = {
  name: 'api-partition',
  fault: "an API host's route to Redis cut under load, then restored",
  ci: true,
  async run(ctx) {
    const why = cannotPartition(ctx);
    if (why) return notRun(ctx, why);
    const net = HostNetwork.create(['ap']);
    ctx.defer('remove the drill hosts', () => Promise.resolve(net.destroy()));
    const host = net.host('ap');
    const url = `http://${host.ip}:8000`;
    const proc = await startOnHost(ctx, net, 'ap', 'api', { HOST: host.ip, PORT: '8000', API_INSTANCE_ID: `partitioned-api-${process.pid}` });
    const ready = await waitFor(async () => (await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200, 60_000);
    if (ready === null) throw new Error(`the API on its own host did not become ready:\n${proc.log().slice(-2000)}`);
    const deadlineMs = Number(ctx.stack.processEnv(ctx.stack.ofKind('api')[0]!.name).REQUEST_TIMEOUT_MS ?? 10_000);

    const load = ctx.startLoad([url]);
    await ctx.settle();
    net.partition('ap', 'services');
    const cutAt = Date.now();
    ctx.log('route to Redis cut');
    await sleep(ctx.options.ci ? 6000 : 15_000);
    net.unpartition('ap', 'services');
    const backAt = Date.now();
    await load.okAfter(backAt, 20, 30_000);
    const firstOk = load.records.filter((r) => r.outcome === 'ok' && r.startedAt >= backAt).reduce((m, r) => Math.min(m, r.endedAt), Infinity);
    await ctx.settle();
    const summary = await load.stop();

    const statuses = Object.keys(summary.errors);
    ctx.expect(statuses.every((s) => s === '503'), `answers other than 200/503 while cut off: ${statuses.filter((s) => s !== '503').join(', ')}`);
    ctx.expect((summary.errors['503'] ?? 0) > 0, 'no request got 503: the partition was not observed');
    const noRetryAfter = load.records.filter((r) => r.status === 503 && !r.retryAfter).length;
    ctx.expect(noRetryAfter === 0, `${noRetryAfter} 503 answer(s) without Retry-After`);
    ctx.expect(summary.lost === 0 && summary.connFailed === 0, `${summary.lost} lost and ${summary.connFailed} failed at the connection`);
    ctx.expect(summary.maxMs < deadlineMs + 1000, `a request took ${summary.maxMs} ms, past its ${deadlineMs} ms deadline`);
    ctx.expect(Number.isFinite(firstOk), 'no request succeeded after the route came back');
    ctx.note(`cut for ${((backAt - cutAt) / 1000).toFixed(1)} s; ${summary.errors['503'] ?? 0} answered 503`);
    return { load: summary, workflow: '-', recoverMs: Number.isFinite(firstOk) ? firstOk - backAt : null, recoveredWhen: 'first 200 after the route came back' };
  },
};
