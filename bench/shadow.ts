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
  none: LoadResult[];
  shadow: LoadResult[];
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
 * with no traffic plan, then with a copy of the champion shadowing 100% of the
 * requests (every request also runs on the candidate after the reply). The
 * plan goes through the registry tag and the fleet controller as a
 * progressive rollout's would; it is removed (and the copy deleted) at the end.
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
  const { champion, copy } = await registerCopy(mlflow, modelName);
  try {
    const none = await measure('none');
    const plan: TrafficPlan = { version: copy, mode: 'shadow', share: 1, mirrorShare: 0, deploymentId: `bench-shadow-${Date.now()}`, setAt: Date.now() };
    await mlflow.setRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG, JSON.stringify(plan));
    await sync();
    await waitUntil(`v${copy} loaded beside the champion on every worker`, async () => candidateReady(await listWorkerStatuses(redis, opts.redisPrefix), modelName, copy), 120_000);
    // The API re-reads the plans every ACTIVE_MODEL_REFRESH_MS (1 s by default).
    await new Promise((r) => setTimeout(r, 2500));
    const shadow = await measure('shadow 100%');
    return { champion, candidate: copy, none, shadow };
  } finally {
    await mlflow.deleteRegisteredModelTag(modelName, TRAFFIC_PLAN_TAG);
    await sync();
    await waitUntil('the shadow plan to leave the fleet', async () => (await readTrafficState(redis, opts.redisPrefix, modelName)) === null, 30_000).catch((err: Error) => log(`  ${err.message}`));
    const res = await fetch(`${opts.trackingUri}/api/2.0/mlflow/model-versions/delete`, { method: 'DELETE', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: modelName, version: copy }) });
    if (!res.ok) log(`  could not delete the copy v${copy}: HTTP ${res.status}`);
    redis.disconnect();
  }
}
