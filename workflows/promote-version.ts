import { isCancellation } from '@temporalio/workflow';
import { parseInput, promoteVersionInputSchema } from '../lib/lifecycle/input';
import { promotionOutcome } from '../lib/lifecycle/story';
import type { PromoteVersionResult } from '../lib/lifecycle/types';
import { lifecycleActivities } from './activities';
import { ProgressTracker } from './progress';
import { RolloutControl } from './rollout-control';
import { failureMessage, validInput } from './failures';
import { gateAndPromote, rolloutFields } from './promotion';

/**
 * `lifecycle promote VERSION` and `lifecycle rollback`: the same fair gate,
 * evidence and promotion saga as an automatic promotion, for a version that
 * is already registered. A promote the gate rejects needs `force`; a rollback
 * is an operator's decision, so it always proceeds (the evidence is recorded).
 */
export async function promoteVersion(raw?: unknown): Promise<PromoteVersionResult> {
  const input = validInput(() => parseInput(promoteVersionInputSchema, raw, 'promoteVersion'));
  const kind = input.rollback ? 'rollback' : 'promote';
  const progress = new ProgressTracker(input.modelName, ['gate', 'rollout', 'alias'], { kind, version: input.version, force: input.force });
  // Registered first thing, so `lifecycle approve|abort|pause|resume` always gets an answer (a refusal until a rollout runs).
  const control = new RolloutControl(input.modelName);
  const acts = lifecycleActivities(input.timeouts, input.trainingTaskQueue);
  try {
    progress.begin('gate', 'gating', input.rollback ? 'finding the version the champion replaced' : `v${input.version}`);
    const model = input.rollback ? await acts.registry.rollbackTarget(input.modelName) : { name: input.modelName, version: input.version! };
    progress.version(model);
    const info = await acts.registry.getVersionInfo(model, input.promotionMetric);
    const outcome = await gateAndPromote(
      acts,
      progress,
      control,
      input,
      { model, value: info.metric, splitDigest: info.splitDigest, dataset: info.dataset },
      input.force || input.rollback,
      { rollback: input.rollback, note: input.reason },
    );
    progress.finish('done', outcome.decision.reason, promotionOutcome(kind, outcome.status === 'promoted', outcome.status === 'rolled-back'));
    return { model, decision: outcome.decision, promoted: outcome.status === 'promoted', deployment: outcome.deployment, previousChampion: outcome.previousChampion, ...rolloutFields(outcome) };
  } catch (err) {
    const cancelled = isCancellation(err);
    progress.finish(cancelled ? 'cancelled' : 'failed', cancelled ? 'workflow cancelled' : failureMessage(err), cancelled ? 'cancelled' : 'failed');
    throw err;
  }
}
