import { Redis } from 'ioredis';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { VERSION_TAGS, tagsOf } from '../../lib/mlflow/client';
import type { CliContext } from '../config';

/** How many live inference workers serve each version of `model` (null: Redis not reachable). */
async function servedBy(ctx: CliContext): Promise<Map<string, number> | null> {
  const redis = new Redis(ctx.config.REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 2000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const counts = new Map<string, number>();
    for (const w of await listWorkerStatuses(redis, ctx.config.REDIS_PREFIX)) {
      const m = w.models[ctx.model];
      if (m?.version && m.state === 'ready') counts.set(m.version, (counts.get(m.version) ?? 0) + 1);
    }
    return counts;
  } catch {
    return null;
  } finally {
    redis.disconnect();
  }
}

/** `lifecycle models`: every version with its aliases, accuracy, dataset digest, gate outcome and how many workers serve it. */
export async function models(ctx: CliContext): Promise<number> {
  const registered = await ctx.mlflow.getRegisteredModel(ctx.model);
  if (!registered) {
    console.log(`${ctx.model}: not registered yet`);
    return 0;
  }
  const aliases = new Map<string, string[]>();
  for (const a of registered.aliases ?? []) aliases.set(a.version, [...(aliases.get(a.version) ?? []), a.alias]);
  const [versions, served] = await Promise.all([ctx.mlflow.searchAllModelVersions(`name='${ctx.model.replace(/'/g, "\\'")}'`), servedBy(ctx)]);
  const rows = versions.map((mv) => {
    const t = tagsOf(mv);
    const acc = Number(t['lifecycle.metric.test_accuracy']);
    return [
      `v${mv.version}`,
      (aliases.get(mv.version) ?? []).join(',') || '-',
      Number.isFinite(acc) ? `${(acc * 100).toFixed(2)}%` : '-',
      (t[VERSION_TAGS.datasetDigest] ?? '-').slice(0, 12),
      (t[VERSION_TAGS.testSplitDigest] ?? '-').slice(0, 12),
      t[VERSION_TAGS.outcome] ?? t['lifecycle.gate.decision'] ?? '-',
      served === null ? '?' : String(served.get(mv.version) ?? 0),
    ];
  });
  const header = ['VERSION', 'ALIASES', 'TEST ACC', 'DATASET', 'TEST SPLIT', 'OUTCOME', 'SERVED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  console.log(`${ctx.model}`);
  console.log(line(header));
  rows.forEach((r) => console.log(line(r)));
  if (served === null) console.log('(served by: Redis not reachable at REDIS_URL)');
  return 0;
}
