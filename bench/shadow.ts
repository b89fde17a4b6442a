import { Redis } from 'ioredis';
import { candidateReady } from '../api/services/served-traffic';
import { fleetKeys, TRAFFIC_PLAN_TAG, type TrafficPlan } from '../lib/fleet/protocol';
import { readTrafficState } from '../lib/fleet/traffic-states';
import { listWorkerStatuses } from '../lib/fleet/worker-statuses';
import { tagsOf, VERSION_TAGS, type MlflowClient } from '../lib/mlflow/client';
import { waitUntil } from './processes';
import { runWrk, type LoadResult } from './wrk';

export interface ShadowResult {
  /** The champion, and the copy of it that ran as the shadow candidate. */
  champion: string;
  candidate: string;
  /** Per connection count, the mean of the rounds of each (ABBA order, below). */
  none: LoadResult[];
  shadow: LoadResult[];
  /** Every measurement, in the order taken: none, shadow, shadow, none, per cycle. */
  rounds: Array<{ traffic: 'none' | 'shadow'; levels: LoadResult[] }>;
}

/** The mean of several measurements of the same level (percentiles averaged: an estimate, said so in the README). */
function meanLoad(runs: LoadResult[]): LoadResult {
  const avg = (pick: (l: LoadResult) => number) => runs.reduce((sum, l) => sum + pick(l), 0) / runs.length;
  const sum = (pick: (l: LoadResult) => number) => runs.reduce((total, l) => total + pick(l), 0);
  return {
    connections: runs[0]!.connections,
    seconds: sum((l) => l.seconds),
    requests: sum((l) => l.requests),
    rps: avg((l) => l.rps),
    p50: avg((l) => l.p50),
    p90: avg((l) => l.p90),
    p99: avg((l) => l.p99),
    max: Math.max(...runs.map((l) => l.max)),
    non2xx: sum((l) => l.non2xx),
    socketErrors: sum((l) => l.socketErrors),
  };
}

/** A new version with the champion's ONNX file and tags: a candidate that costs exactly what the champion costs. */
async function registerCopy(mlflow: MlflowClient, modelName: string): Promise<{ champion: string; copy: string }> {
  const mv = await mlflow.getModelVersionByAlias(modelName, 'champion');
  if (!mv) throw new Error(`${modelName} has no champion: start the stack with \`make up\``);
  const all = tagsOf(mv);
  // Only what serving needs: no dataset digest, so the data trigger never takes the copy for a trained version.
  const tags = Object.fromEntries([VERSION_TAGS.sha256, VERSION_TAGS.onnxUri, VERSION_TAGS.modelId].flatMap((k) => (all[k] ? [[k, all[k]]] : [])));
  const copy = await mlflow.createModelVersion(modelName, mv.source, mv.run_id ?? '', { ...tags, 'lifecycle.bench': 'shadow candidate' }, all[VERSION_TAGS.modelId]);
  return { champion: mv.version, copy: copy.version };
}

/**
 * "Shadow costs the user nothing": the default model at each connection count
 * with no traffic plan, and with a copy of the champion shadowing 100% of the
 * requests (every request also runs on the candidate after the reply). The
 * plan goes through the registry tag and the fleet controller as a
 * progressive rollout's would; it is removed (and the copy deleted) at the end.
 * Rounds in ABBA order (none, shadow, shadow, none), `cycles` times, each side
 * the mean of its rounds: on this noisy VM a drift during the run (another
 * tenant, the payload logger catching up) would otherwise land on whichever
 * side ran second, and one round's p50 moves by about 10% from the next.
 */
export async function benchShadow(opts: {
  url: string;
  mlflow: MlflowClient;
  redisUrl: string;
  redisPrefix: string;
  modelName: string;
  bodies: Buffer[];
  connections: number[];
  seconds: number;
  /** ABBA cycles (none, shadow, shadow, none) to average over: the 1-connection p50 moves by 10% between rounds here. */
  cycles: number;
  trackingUri: string;
  log: (line: string) => void;
}): Promise<ShadowResult> {
  const { mlflow, modelName, log } = opts;
  const redis = new Redis(opts.redisUrl);
  const sync = () => redis.publish(fleetKeys(opts.redisPrefix).commands, JSON.stringify({ type: 'sync', model: modelName }));
  const measure = async (label: string): Promise<LoadResult[]> => {
    const levels: LoadResult[] = [];
    await runWrk(opts.url, opts.bodies, { connections: 16, seconds: 2, threads: 2 }); // warm-up
    for (const connections of opts.connections) {
      const l = await runWrk(opts.url, opts.bodies, { connections, seconds: opts.seconds, threads: connections > 1 ? 2 : 1 });
      levels.push(l);
      log(`  ${label}, ${connections} connection(s): ${l.rps.toFixed(0)} req/s, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, errors ${l.non2xx + l.socketErrors}`);
    }
    return levels;
  };
  const clearPlan = async () => {
    await mlflow.deleteRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG);
    await sync();
    await waitUntil('the shadow plan to leave the fleet', async () => (await readTrafficState(redis, opts.redisPrefix, modelName)) === null, 30_000);
    // The API re-reads the plans every ACTIVE_MODEL_REFRESH_MS (1 s by default).
    await new Promise((r) => setTimeout(r, 2500));
  };
  const { champion, copy } = await registerCopy(mlflow, modelName);
  let planSet = false;
  try {
    const rounds: ShadowResult['rounds'] = [];
    for (let cycle = 0; cycle < opts.cycles; cycle++) {
      rounds.push({ traffic: 'none', levels: await measure('none') });
      const plan: TrafficPlan = { version: copy, mode: 'shadow', share: 1, mirrorShare: 0, deploymentId: `bench-shadow-${Date.now()}`, setAt: Date.now() };
      await mlflow.setRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG, JSON.stringify(plan));
      planSet = true;
      await sync();
      await waitUntil(`v${copy} loaded beside the champion on every worker`, async () => candidateReady(await listWorkerStatuses(redis, opts.redisPrefix), modelName, copy), 120_000);
      await new Promise((r) => setTimeout(r, 2500));
      rounds.push({ traffic: 'shadow', levels: await measure('shadow 100%') });
      rounds.push({ traffic: 'shadow', levels: await measure('shadow 100%') });
      planSet = false;
      await clearPlan();
      rounds.push({ traffic: 'none', levels: await measure('none') });
    }
    const mean = (traffic: 'none' | 'shadow') => {
      const side = rounds.filter((r) => r.traffic === traffic);
      return side[0]!.levels.map((_, i) => meanLoad(side.map((r) => r.levels[i]!)));
    };
    return { champion, candidate: copy, none: mean('none'), shadow: mean('shadow'), rounds };
  } finally {
    if (planSet) await clearPlan().catch((err: Error) => log(`  ${err.message}`));
    const res = await fetch(`${opts.trackingUri}/api/2.0/mlflow/model-versions/delete`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: modelName, version: copy }) });
    if (!res.ok) log(`  could not delete the copy v${copy}: HTTP ${res.status}`);
    redis.disconnect();
  }
}
