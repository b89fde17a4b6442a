import { CancellationScope, patched } from '@temporalio/workflow';
import type { RolloutRecord } from '../lib/analysis/rollout-record';
import { effectiveStrategy, type RolloutConfig } from '../lib/lifecycle/rollout-config';
import type { DeploymentResult, PromotionDecision, PromotionOutcome, RegisteredVersion } from '../lib/lifecycle/types';
import type { LifecycleActivities } from './activities';
import type { ProgressTracker } from './progress';
import { PROGRESSIVE_PATCH, runProgressiveRollout } from './progressive-rollout';

/** Executions recorded before the lease was taken again after the live analysis replay without it. */
const LEASE_BEFORE_DEPLOY_PATCH = 'progressive-lease-before-deploy';
import type { RolloutControl } from './rollout-control';

export interface SagaInput {
  model: RegisteredVersion;
  decision: PromotionDecision;
  /** Roll the version out to the inference fleet before moving the alias. */
  deploy: boolean;
  /** Promote even if a re-gate against a newer champion says no (an operator's `--force`, or a rollback). */
  force: boolean;
  deploymentId: string;
  description: string;
  /** Decides again when the champion changed while this promotion waited for the lease. */
  regate: () => Promise<PromotionDecision>;
  recordDecision: (decision: PromotionDecision) => Promise<void>;
  /** How the version reaches the fleet when it replaces a champion (see rollout-config.ts). */
  rollout: RolloutConfig;
  /** `lifecycle rollback`: all at once unless the rollout names a strategy. */
  rollback: boolean;
  control: RolloutControl;
}

/**
 * Promotion as a saga over the serving side's rollout activities:
 *
 *   lease -> champion unchanged since the gate? (else re-gate)
 *   -> [progressive: shadow/canary steps judged by live analysis, optional
 *      approval, clear the candidate's traffic] -> deploy
 *   -> move `champion` (the pivot, retried through an MLflow outage)
 *   -> finalize -> release
 *
 * A progressive rollout that the analysis (or an operator's abort) stops
 * is not a failure: the candidate's traffic is cleared, the version marked
 * rolled back with the reason, the lease released, and the alias never moves.
 *
 * Before the pivot, any failure or cancellation compensates in a
 * non-cancellable scope: the fleet goes back to what the registry's `champion`
 * names (which the alias move did not change) and the lease is released. After
 * the pivot the promotion has happened: finishing it (finalize, release) is
 * non-cancellable, so a worker that starts later always loads what the
 * registry calls champion, and the fleet never splits.
 */
export async function promoteWithSaga(acts: LifecycleActivities, progress: ProgressTracker, s: SagaInput): Promise<PromotionOutcome> {
  const { model, deploymentId } = s;
  const modelName = model.name;
  let decision = s.decision;
  let deployment: DeploymentResult | null = null;
  let leased = false;
  let fleetTouched = false;
  let trafficTouched = false;
  let rollout: RolloutRecord | undefined;
  let previous: string | null;
  try {
    progress.begin('rollout', 'waiting-for-rollout-lease', `waiting for the rollout lease of ${modelName}`);
    leased = true; // set first: a cancelled acquire may still have taken it, and releasing is idempotent
    await acts.lease.acquireRolloutLease({ modelName, deploymentId, description: s.description });
    const now = await acts.registry.championVersion(modelName);
    if (now !== decision.championVersion) {
      // Another promotion won the race while we waited: decide again against the new champion.
      decision = await s.regate();
      await s.recordDecision(decision);
      if (!decision.promote && !s.force) {
        await CancellationScope.nonCancellable(() => acts.cleanup.releaseRolloutLease({ modelName, deploymentId }));
        progress.end('rollout', 'skipped', `re-gated against v${now}: ${decision.reason}`);
        return { status: 'rejected', decision, deployment: null, previousChampion: now };
      }
    }
    const strategy = effectiveStrategy(s.rollout, { championVersion: now, deploy: s.deploy, rollback: s.rollback });
    // Executions recorded before progressive delivery deployed at once here: they replay that way.
    if (strategy === 'progressive' && now !== null && patched(PROGRESSIVE_PATCH)) {
      trafficTouched = true;
      let result = await runProgressiveRollout(acts, s.control, progress, { model, championVersion: now, deploymentId, rollout: s.rollout });
      if (result.passed && patched(LEASE_BEFORE_DEPLOY_PATCH)) {
        // Each step holds the lease for its own length; a wait for approval (or a long pause) can outlast it.
        // Take it again (idempotent while it is ours) and make sure the champion did not move meanwhile.
        await acts.lease.acquireRolloutLease({ modelName, deploymentId, description: s.description });
        const again = await acts.registry.championVersion(modelName);
        if (again !== now) {
          const reason = `the champion moved to ${again === null ? 'no version' : `v${again}`} during the progressive rollout (judged against v${now})`;
          result = { passed: false, reason, record: { ...result.record, outcome: 'rolled-back', reason } };
        }
      }
      rollout = result.record;
      if (!result.passed) {
        await CancellationScope.nonCancellable(async () => {
          progress.begin('rollout', 'rolling-back', `rolling v${model.version} back: ${result.reason}`);
          await acts.trafficCleanup.clearTraffic({ modelName, deploymentId });
          await acts.cleanup.releaseRolloutLease({ modelName, deploymentId });
          await acts.cleanup.recordRolloutEvidence({ model, record: result.record });
        });
        progress.end('rollout', 'compensated', `rolled back: ${result.reason}`);
        progress.end('alias', 'skipped', `champion stays v${now}`);
        return { status: 'rolled-back', decision, deployment: null, previousChampion: now, rollout };
      }
      await acts.trafficCleanup.clearTraffic({ modelName, deploymentId });
    } else if (progress.state.rollout === undefined && now !== null) {
      progress.state.rollout = { strategy: 'all-at-once', state: 'passed', championVersion: now, steps: [], stepIndex: 0, pausedMs: 0, timeInStepMs: 0, history: [] };
    }
    if (s.deploy) {
      progress.begin('rollout', 'deploying', `rolling v${model.version} out`);
      fleetTouched = true;
      deployment = await acts.deploy.deployModel({ model, deploymentId });
      progress.end('rollout', 'done', `v${model.version} on ${deployment.workers.length} worker(s)`);
    } else {
      progress.end('rollout', 'skipped', 'deploy: false');
    }
    progress.begin('alias', 'promoting', `moving champion to v${model.version}`);
    // Executions started before this change moved the alias without holding the lease: replay them as they ran.
    ({ previous } = patched('alias-move-holds-lease') ? await acts.pivot.moveChampionAlias({ model, deploymentId }) : await acts.alias.setChampion(model));
  } catch (err) {
    await CancellationScope.nonCancellable(async () => {
      if (trafficTouched) await acts.trafficCleanup.clearTraffic({ modelName, deploymentId });
      if (fleetTouched) {
        progress.begin('rollout', 'compensating', 'restoring the fleet to the registry champion');
        const restored = await acts.cleanup.restoreFleet({ modelName, deploymentId });
        progress.end('rollout', 'compensated', `fleet back on ${restored.version === null ? 'no version' : `v${restored.version}`}`);
      }
      if (leased) await acts.cleanup.releaseRolloutLease({ modelName, deploymentId });
    });
    throw err;
  }
  await CancellationScope.nonCancellable(async () => {
    if (s.deploy) await acts.cleanup.finalizeRollout({ model, deploymentId });
    await acts.cleanup.releaseRolloutLease({ modelName, deploymentId });
  });
  progress.end('alias', 'done', `champion: v${model.version}${previous ? ` (was v${previous})` : ''}`);
  return { status: 'promoted', decision, deployment, previousChampion: previous, ...(rollout ? { rollout } : {}) };
}
