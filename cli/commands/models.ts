import { connectRedis } from '../../lib/queue/redis-connection';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { LEGACY_VERSION_TAGS, VERSION_TAGS, tagsOf, type ModelVersion } from '../../lib/mlflow/client';
import { OUTCOMES, type LifecycleOutcome } from '../../lib/lifecycle/search-attributes';
import { gateEvidenceOf, runOf, versionMetric } from '../../activities/version-story';
import { UsageError } from '../args';
import type { CliContext } from '../config';

export const modelsOptions = { outcome: { type: 'string' } } as const;

/** Where a version stands: its outcome tag, else what its gate said (older versions), else registered only. */
function outcomeOf(mv: ModelVersion): string {
  const t = tagsOf(mv);
  return t[VERSION_TAGS.outcome] ?? gateEvidenceOf(mv)?.decision ?? t[LEGACY_VERSION_TAGS.gateDecision] ?? '-';
}

/** How many live inference workers serve each version of `model` (null: Redis not reachable). */
async function servedBy(ctx: CliContext): Promise<Map<string, number> | null> {
  const redis = connectRedis(ctx.config, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 2000 });
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
export async function models(ctx: CliContext, v: { outcome?: string } = {}): Promise<number> {
  if (v.outcome && !OUTCOMES.includes(v.outcome as LifecycleOutcome)) throw new UsageError(`--outcome must be one of ${OUTCOMES.join(', ')}`);
  const registered = await ctx.mlflow.getRegisteredModel(ctx.model);
  if (!registered) {
    console.log(`${ctx.model}: not registered yet`);
    return 0;
  }
  const aliases = new Map<string, string[]>();
  for (const a of registered.aliases ?? []) aliases.set(a.version, [...(aliases.get(a.version) ?? []), a.alias]);
  const [all, served] = await Promise.all([ctx.mlflow.searchAllModelVersions(`name='${ctx.model.replace(/'/g, "\\'")}'`), servedBy(ctx)]);
  const versions = all.filter((mv) => !v.outcome || outcomeOf(mv) === v.outcome);
  // Metrics are facts of each version's run (older versions also carry them as tags).
  const runs = await Promise.all(versions.map((mv) => runOf(ctx.mlflow, mv).catch(() => null)));
  const rows = versions.map((mv, i) => {
    const t = tagsOf(mv);
    const acc = versionMetric(mv, runs[i] ?? null, 'test_accuracy') ?? NaN;
    return [
      `v${mv.version}`,
      (aliases.get(mv.version) ?? []).join(',') || '-',
      Number.isFinite(acc) ? `${(acc * 100).toFixed(2)}%` : '-',
      (t[VERSION_TAGS.datasetDigest] ?? '-').slice(0, 12),
      (t[VERSION_TAGS.testSplitDigest] ?? '-').slice(0, 12),
      outcomeOf(mv),
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
