/**
 * Drill 11: a model file corrupted in the artifact store after registration (the drill
 * registers a distinct valid file, then flips bytes of the stored copy). Promoting it must
 * fail before any worker is asked to load it; a deploy command sent straight to every worker
 * must be refused by each (MODEL_CHECKSUM_MISMATCH); nothing serves it, nothing caches it,
 * the alias stays. The tampered version is deleted from the registry afterwards.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fleetKeys, type FleetCommand, type ModelRef } from '../../lib/fleet/protocol';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import type { PromoteVersionResult } from '../../lib/lifecycle/types';
import { championRef, plannedWorkerIds } from '../consistency';
import { expectCleanLoad, waitFor, type Drill, type DrillContext } from '../drill';
import { deleteVersion, registerTamperedVersion } from '../versions';
import { describePromotion, ending, startPromote } from '../workflows';
import { expectVersions, stamp } from './common';

/** Publishes a deploy command to every worker until each reports on it (pub/sub is fire-and-forget); returns each one's status for the model. */
async function deployToAll(ctx: DrillContext, ref: ModelRef, deploymentId: string, done: (state: string) => boolean) {
  const { stack } = ctx;
  const ids = plannedWorkerIds(stack);
  const command: FleetCommand = { type: 'deploy', deploymentId, model: ref };
  let sentAt = 0;
  let statuses = await listWorkerStatuses(stack.redis, stack.prefix);
  const took = await waitFor(async () => {
    if (Date.now() - sentAt > 3000) {
      await stack.redis.publish(fleetKeys(stack.prefix).commands, JSON.stringify(command));
      sentAt = Date.now();
    }
    statuses = await listWorkerStatuses(stack.redis, stack.prefix);
    return ids.every((id) => {
      const served = statuses.find((s) => s.workerId === id)?.models[stack.modelName];
      return served?.deploymentId === deploymentId && done(served.state);
    });
  }, 60_000, 200);
  return { took, served: ids.map((id) => ({ id, served: statuses.find((s) => s.workerId === id)?.models[stack.modelName] })) };
}

export const corruptModel: Drill = {
  name: 'corrupt-model',
  fault: 'model file corrupted in the artifact store after registration',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const champion = await championRef(stack);
    const { ref: bad, file } = await registerTamperedVersion(stack, 'corrupt-model');
    ctx.defer(`delete the tampered v${bad.version} and its file`, async () => {
      await deleteVersion(stack, bad.version);
      rmSync(dirname(file), { recursive: true, force: true });
    });
    ctx.log(`registered v${bad.version}, then corrupted ${file}`);
    const workflowId = `drill-corrupt-model-${stamp()}`;
    const touched = new Set<string>();
    const watch = setInterval(() => {
      void listWorkerStatuses(stack.redis, stack.prefix).then((statuses) => {
        for (const s of statuses) {
          const served = s.models[stack.modelName];
          // Acting on the promotion's own deploy command (its id is `<workflowId>/<runId>/v<version>`) means it was asked to load the file.
          if (served?.version === bad.version || (served?.deploymentId?.startsWith(`${workflowId}/`) && !/-(restore|rollback)$/.test(served.deploymentId))) touched.add(s.workerId);
        }
      }, () => undefined);
    }, 100);
    const load = ctx.startLoad();
    await ctx.settle();
    const startedAt = Date.now();
    const end = await ending<PromoteVersionResult>(await startPromote(stack, workflowId, bad.version), 5 * 60_000);
    clearInterval(watch);
    ctx.expect(!end.ok && /MODEL_CHECKSUM_MISMATCH/.test(end.error), `promoting the corrupted version did not fail on its checksum: ${describePromotion(end)}`);
    ctx.expect(touched.size === 0, `worker(s) were asked to load the corrupted version by the promotion: ${[...touched].join(', ')}`);

    // Straight to the workers, bypassing the rollout's own check: each must refuse the file.
    const sentAt = Date.now();
    const refused = await deployToAll(ctx, bad, `drill-corrupt-model-${stamp()}`, (state) => state !== 'loading');
    const endedAt = Date.now();
    for (const { id, served } of refused.served) {
      ctx.expect(served?.state === 'failed' && served.error?.code === 'MODEL_CHECKSUM_MISMATCH', `${id} did not refuse the file with MODEL_CHECKSUM_MISMATCH: ${JSON.stringify(served)}`);
      ctx.expect(served?.version === champion.version, `${id} serves v${served?.version} after the refusal, not v${champion.version}`);
    }
    const cacheDir = stack.processEnv(stack.ofKind('inference-worker')[0]!.name).MODEL_CACHE_DIR ?? join(stack.stateDir, 'models');
    ctx.expect(!existsSync(join(cacheDir, `${bad.sha256}.onnx`)), 'the corrupted file reached the workers\' model cache');
    ctx.expect((await championRef(stack)).version === champion.version, `the champion alias moved off v${champion.version}`);
    // The workers keep reporting the refusal until told otherwise: the same no-op re-deploy of the champion a compensation sends.
    const restored = await deployToAll(ctx, champion, `drill-corrupt-model-restore-${stamp()}`, (state) => state === 'ready');
    ctx.expect(restored.took !== null, 'the workers did not report ready on the champion again');
    await ctx.settle();
    const summary = await load.stop();
    expectCleanLoad(ctx, summary);
    expectVersions(ctx, load.records, { before: champion.version, after: champion.version, allowed: [champion.version] }, startedAt, endedAt);
    ctx.note(`every worker refused v${bad.version}: ${refused.served.map((s) => `${s.id} ${s.served?.error?.code ?? '?'}`).join(', ')}`);
    if (!end.ok) ctx.note(`workflow error: ${end.error}`);
    const workflow = !end.ok && /MODEL_CHECKSUM_MISMATCH/.test(end.error) ? `failed: MODEL_CHECKSUM_MISMATCH before the rollout; champion stays v${champion.version}` : describePromotion(end);
    return { load: summary, workflow, recoverMs: refused.took === null ? null : endedAt - sentAt, recoveredWhen: 'every worker refused the direct deploy command' };
  },
};
