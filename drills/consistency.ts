/**
 * "The system is whole and agrees with itself": the registry's champion, the fleet's active
 * version (Redis cache), every planned inference worker, the API instances' readiness,
 * supervisord's processes, and nothing stuck in Redis (rollout lease, queued or pending
 * requests, reply streams that would never expire). Checked before and after every drill.
 */
import { readActiveModel } from '../lib/fleet/active-models';
import { fleetKeys } from '../lib/fleet/protocol';
import { listWorkerStatuses } from '../lib/fleet/worker-statuses';
import type { ModelRef } from '../lib/fleet/protocol';
import { modelRefOf } from '../lib/mlflow/client';
import { INFERENCE_GROUP, queueKeys } from '../lib/queue/keys';
import { scanKeys } from '../lib/queue/redis-keyspace';
import { waitFor } from './drill';
import type { Stack } from './stack';

export async function championRef(stack: Stack): Promise<ModelRef> {
  const mv = await stack.mlflow.getModelVersionByAlias(stack.modelName, 'champion');
  if (!mv) throw new Error(`${stack.modelName} has no champion: run \`make up\` (it trains one)`);
  return modelRefOf(mv);
}

/** Worker ids of the stack's planned inference workers (WORKER_ID as `make up` set it). */
export function plannedWorkerIds(stack: Stack): string[] {
  return stack.ofKind('inference-worker').map((p) => stack.processEnv(p.name).WORKER_ID ?? p.name);
}

/** Backlog and unacknowledged entries of the model's request stream. */
export async function requestStream(stack: Stack): Promise<{ length: number; pending: number }> {
  const key = queueKeys(stack.prefix).requests(stack.modelName);
  const length = await stack.redis.xlen(key);
  let pending = 0;
  try {
    const summary = (await stack.redis.xpending(key, INFERENCE_GROUP)) as [number, ...unknown[]];
    pending = Number(summary[0]);
  } catch {
    // no group yet: nothing pending
  }
  return { length, pending };
}

/** Every disagreement found now (empty = consistent). `allowExtraWorkers`: workers a drill runs on purpose. */
export async function inconsistencies(stack: Stack, allowExtraWorkers: string[] = []): Promise<string[]> {
  const problems: string[] = [];
  const champion = await championRef(stack);
  const model = stack.modelName;

  const active = await readActiveModel(stack.redis, stack.prefix, model);
  if (!active) problems.push(`fleet has no active version of ${model} (champion is v${champion.version})`);
  else if (active.version !== champion.version || active.sha256 !== champion.sha256) problems.push(`fleet active v${active.version}, champion alias v${champion.version}`);

  const statuses = await listWorkerStatuses(stack.redis, stack.prefix);
  const planned = plannedWorkerIds(stack);
  for (const id of planned) {
    const status = statuses.find((s) => s.workerId === id);
    const served = status?.models[model];
    if (!status) problems.push(`worker ${id} is not in the fleet (no live status)`);
    else if (status.state !== 'ready') problems.push(`worker ${id} is ${status.state}`);
    else if (!served || served.version !== champion.version || served.sha256 !== champion.sha256 || served.state !== 'ready') {
      problems.push(`worker ${id} serves ${served ? `v${served.version} (${served.state}${served.error ? `: ${served.error.code}: ${served.error.message}` : ''})` : 'nothing'}, champion is v${champion.version}`);
    }
  }
  for (const s of statuses) {
    if (!planned.includes(s.workerId) && !allowExtraWorkers.includes(s.workerId)) problems.push(`unplanned worker ${s.workerId} is in the fleet`);
  }

  const lease = await stack.redis.get(fleetKeys(stack.prefix).lease(model));
  if (lease) problems.push(`rollout lease still held: ${lease}`);

  const stream = await requestStream(stack);
  if (stream.length > 0 || stream.pending > 0) problems.push(`request stream not drained: ${stream.length} queued, ${stream.pending} pending`);
  problems.push(...(await replyStreamsWithoutExpiry(stack)));

  for (const p of await stack.processes()) {
    // `external`: a service this stack reuses but does not run (the machine's Redis); only its being down matters.
    if (p.state !== 'RUNNING' && p.state !== 'external') problems.push(`process ${p.name} is ${p.state}`);
  }
  for (const api of stack.ofKind('api')) {
    const res = await fetch(api.ready, { signal: AbortSignal.timeout(3000) }).catch(() => null);
    const body = res ? ((await res.json().catch(() => null)) as { model?: { version?: string } } | null) : null;
    if (res?.status !== 200) problems.push(`${api.name} is not ready (${res?.status ?? 'no answer'})`);
    else if (body?.model?.version !== champion.version) problems.push(`${api.name} reports v${body?.model?.version}, champion is v${champion.version}`);
  }
  return problems;
}

/** Reply streams of API instances that would never expire (a dead instance must leave nothing behind). */
async function replyStreamsWithoutExpiry(stack: Stack): Promise<string[]> {
  const out: string[] = [];
  for (const key of await scanKeys(stack.redis, queueKeys(stack.prefix).replies('*'), 200)) {
    if ((await stack.redis.pttl(key)) === -1) out.push(`reply stream ${key} has no expiry`);
  }
  return out;
}

/** Waits until consistent; returns the time it took, or the last problems after `timeoutMs`. */
export async function waitConsistent(stack: Stack, timeoutMs: number, allowExtraWorkers: string[] = []): Promise<{ ms: number | null; problems: string[] }> {
  let last: string[] = [];
  const ms = await waitFor(async () => {
    last = await inconsistencies(stack, allowExtraWorkers).catch((err: Error) => [`checking consistency failed: ${err.message}`]);
    return last.length === 0;
  }, timeoutMs, 500);
  return { ms, problems: ms === null ? last : [] };
}
