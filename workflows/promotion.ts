import { workflowInfo } from '@temporalio/workflow';
import type { TrainAndPromoteConfig } from '../lib/lifecycle/input';
import type { PromotionDecision, PromotionOutcome } from '../lib/lifecycle/types';
import type { LifecycleActivities } from './activities';
import { fairGate, type Candidate } from './gate';
import type { ProgressTracker } from './progress';
import { promoteWithSaga } from './promotion-saga';
import type { RolloutControl } from './rollout-control';

/** Gate, record the evidence, and run the promotion saga when the gate says so. */
export async function gateAndPromote(
  acts: LifecycleActivities,
  progress: ProgressTracker,
  control: RolloutControl,
  input: Pick<TrainAndPromoteConfig, 'promotionMetric' | 'minImprovement' | 'deploy' | 'rollout'>,
  candidate: Candidate,
  force = false,
  how: { rollback?: boolean; note?: string } = {},
): Promise<PromotionOutcome> {
  const { model } = candidate;
  const decide = async () => {
    progress.begin('gate', 'gating', `v${model.version} against the champion`);
    const decision = await fairGate(acts, candidate, input.promotionMetric, input.minImprovement);
    const marked = { ...decision, ...(how.rollback ? { rollback: true } : {}), ...(how.note ? { note: how.note } : {}) };
    const recorded = force && !decision.promote ? { ...marked, forced: true } : marked;
    progress.state.decision = recorded;
    progress.end('gate', 'done', recorded.reason);
    return recorded;
  };
  const record = (d: PromotionDecision) => acts.registry.recordDecision(model, d);
  const decision = await decide();
  await record(decision);
  if (!decision.promote && !force) {
    progress.end('rollout', 'skipped', 'not promoted');
    progress.end('alias', 'skipped', 'not promoted');
    return { status: 'rejected', decision, deployment: null, previousChampion: decision.championVersion };
  }
  const info = workflowInfo();
  const outcome = await promoteWithSaga(acts, progress, {
    model,
    decision,
    deploy: input.deploy,
    force,
    deploymentId: `${info.workflowId}/${info.runId}/v${model.version}`,
    description: `${info.workflowType} ${info.workflowId}: ${model.name} v${model.version}`,
    regate: decide,
    recordDecision: record,
    rollout: input.rollout,
    rollback: how.rollback ?? false,
    control,
  });
  progress.state.decision = outcome.decision;
  progress.state.deployment = outcome.deployment;
  return outcome;
}

/** The result fields of a progressive rollout (none for a promotion that went all at once). */
export function rolloutFields(o: PromotionOutcome): { rolledBack?: boolean; rollout?: NonNullable<PromotionOutcome['rollout']> } {
  return { ...(o.status === 'rolled-back' ? { rolledBack: true } : {}), ...(o.rollout ? { rollout: o.rollout } : {}) };
}
