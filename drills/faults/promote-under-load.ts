/** The opening every promotion drill shares: a copy of the champion registered, the load settled, the promotion started. */
import type { WorkflowHandle } from '@temporalio/client';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import type { ModelRef } from '../../lib/fleet/protocol';
import { championRef } from '../consistency';
import { waitFor, type DrillContext } from '../drill';
import type { Load } from '../load';
import { registerChampionCopy } from '../versions';
import { startPromote } from '../workflows';
import { stamp } from './common';

export interface PromotionUnderLoad {
  /** The champion before the drill, and the copy of it being promoted. */
  old: ModelRef;
  next: ModelRef;
  load: Load;
  startedAt: number;
  workflowId: string;
  handle: WorkflowHandle;
}

/**
 * Registers a copy of the champion as a new version, starts the drill's load and lets it settle, then
 * starts `promoteVersion --force` of the copy. `beforeLoad` runs once the version exists (a drill that
 * needs an extra process for it starts it there).
 */
export async function promoteCopyUnderLoad(ctx: DrillContext, name: string, beforeLoad?: (next: ModelRef) => Promise<void>): Promise<PromotionUnderLoad> {
  const old = await championRef(ctx.stack);
  const next = await registerChampionCopy(ctx.stack, name);
  await beforeLoad?.(next);
  const load = ctx.startLoad();
  await ctx.settle();
  const startedAt = Date.now();
  const workflowId = `drill-${name}-${stamp()}`;
  const handle = await startPromote(ctx.stack, workflowId, next.version);
  return { old, next, load, startedAt, workflowId, handle };
}

/** Waits until a worker has received the deploy command of promotion `workflowId` (the rollout is under way). */
export async function rolloutUnderWay(ctx: DrillContext, workflowId: string): Promise<void> {
  const { stack } = ctx;
  const moving = await waitFor(async () => {
    const statuses = await listWorkerStatuses(stack.redis, stack.prefix);
    return statuses.some((s) => s.models[stack.modelName]?.deploymentId?.startsWith(`${workflowId}/`) === true);
  }, 5 * 60_000, 10);
  if (moving === null) throw new Error('no worker received the rollout command within 5 min');
}
