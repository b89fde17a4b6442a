import { ActivityFailure, condition, isCancellation } from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import { decideStep } from '../lib/analysis/decide';
import type { LiveMetrics, StepEvaluation } from '../lib/analysis/evidence';
import { stepRecord, type RolloutRecord } from '../lib/analysis/rollout-record';
import type { RolloutProgress } from '../lib/lifecycle/progress';
import { resolvedSteps, type RolloutConfig, type RolloutStep } from '../lib/lifecycle/rollout-config';
import type { RegisteredVersion } from '../lib/lifecycle/types';
import type { LifecycleActivities } from './activities';
import { failureMessage } from './failures';
import type { ProgressTracker } from './progress';
import type { RolloutControl } from './rollout-control';

/** Executions recorded before progressive delivery went all at once at this point: they replay that way. */
export const PROGRESSIVE_PATCH = 'progressive-rollout';

export interface ProgressiveInput {
  model: RegisteredVersion;
  championVersion: string;
  deploymentId: string;
  rollout: RolloutConfig;
}

export type ProgressiveResult = { passed: true; record: RolloutRecord } | { passed: false; reason: string; record: RolloutRecord };

/**
 * The progressive part of a promotion, run while the saga holds the rollout
 * lease: for each step, put its traffic on the fleet (`setTraffic`), then
 * analyse every `analysisInterval` (a durable timer) until the analysis says
 * continue (criteria pass after the minimum duration) or roll back (a
 * criterion failed, or still no evidence at the maximum duration). Then the
 * optional approval. A pause stops the step's clock and its analyses; an
 * abort rolls back. The caller clears the traffic and undoes what is needed;
 * this function only decides, and leaves the evidence of each step on the
 * version as it goes.
 */
export async function runProgressiveRollout(acts: LifecycleActivities, control: RolloutControl, progress: ProgressTracker, p: ProgressiveInput): Promise<ProgressiveResult> {
  const steps = resolvedSteps(p.rollout);
  const interval = msToNumber(p.rollout.analysisInterval);
  const state: RolloutProgress = { strategy: 'progressive', state: 'starting', championVersion: p.championVersion, steps, stepIndex: 0, pausedMs: 0, timeInStepMs: 0, history: [] };
  progress.state.rollout = state;
  control.progress = state;
  const record = (outcome: RolloutRecord['outcome'], reason?: string): RolloutRecord => ({ outcome, champion: p.championVersion, steps: [...state.history], ...(reason ? { reason } : {}) });
  const rolledBack = (reason: string): ProgressiveResult => {
    state.state = 'rolled-back';
    state.reason = reason;
    return { passed: false, reason, record: record('rolled-back', reason) };
  };
  const aborted = () => rolledBack(`aborted by ${control.abortRequested?.by ?? 'an operator'}${control.abortRequested?.reason ? `: ${control.abortRequested.reason}` : ''}`);

  for (const [i, step] of steps.entries()) {
    Object.assign(state, { stepIndex: i, pausedMs: 0, timeInStepMs: 0, latest: undefined, stepStartedAt: undefined, state: control.paused ? 'paused' : 'running' });
    const what = `step ${i + 1}/${steps.length}: ${step.mode} ${Math.round(step.share * 100)}% of v${p.model.version}`;
    progress.begin('rollout', step.mode, what);
    const applied = await acts.traffic.setTraffic({
      model: p.model,
      deploymentId: p.deploymentId,
      mode: step.mode,
      share: step.share,
      maxDurationMs: step.maxDurationMs,
      championVersion: p.championVersion,
    });
    state.stepStartedAt = Date.now();
    state.pausedMs = 0;
    for (;;) {
      await condition(() => control.abortRequested !== null, interval);
      if (control.abortRequested) return aborted();
      if (control.paused) {
        progress.begin('rollout', 'paused', `${what}, paused`);
        await condition(() => !control.paused || control.abortRequested !== null);
        if (control.abortRequested) return aborted();
        progress.begin('rollout', step.mode, what);
        continue;
      }
      const elapsedMs = Math.max(0, Date.now() - state.stepStartedAt - state.pausedMs);
      const evaluation = await analyze(acts, p, step, applied.appliedAt, elapsedMs);
      state.latest = evaluation;
      state.timeInStepMs = elapsedMs;
      progress.begin('rollout', step.mode, `${what}: ${evaluation.decision}, ${evaluation.reason}`);
      if (evaluation.decision === 'hold') continue;
      state.history.push(stepRecord(i, step.mode, step.share, evaluation));
      if (evaluation.decision === 'rollback') return rolledBack(`step ${i + 1} (${step.mode} ${Math.round(step.share * 100)}%): ${evaluation.reason}`);
      await acts.registry.recordRolloutEvidence({ model: p.model, record: record('in-progress') });
      break;
    }
  }
  if (p.rollout.requireApproval) {
    control.awaitingApproval = true;
    state.state = 'waiting-for-approval';
    progress.begin('rollout', 'waiting-for-approval', `${steps.length} step(s) passed: waiting for \`lifecycle approve\``);
    await condition(() => control.approved !== null || control.abortRequested !== null);
    control.awaitingApproval = false;
    if (control.abortRequested) return aborted();
  }
  state.state = 'passed';
  const passed = record('passed', passedReason(state.history, control.approved));
  await acts.registry.recordRolloutEvidence({ model: p.model, record: passed });
  return { passed: true, record: passed };
}

/** Why a rollout passed, in one line: each step's share and how long it took, and who approved. */
function passedReason(history: RolloutRecord['steps'], approved: RolloutControl['approved']): string {
  const steps = history.map((h) => `${h.mode} ${Math.round(h.share * 100)}% in ${h.elapsedS} s`).join(', ');
  const approval = approved ? `; approved${approved.by ? ` by ${approved.by}` : ''}` : '';
  return `${history.length} step(s) passed (${steps})${approval}`;
}

/**
 * One analysis. When the activity fails for good (Prometheus down past its
 * retries) the step has no evidence this time: the same decision is taken on
 * empty metrics, so it holds, and rolls back once the step's maximum is
 * reached, never continues.
 */
async function analyze(acts: LifecycleActivities, p: ProgressiveInput, step: RolloutStep, appliedAt: number, elapsedMs: number): Promise<StepEvaluation> {
  const input = { modelName: p.model.name, championVersion: p.championVersion, candidateVersion: p.model.version, appliedAt, elapsedMs, step, criteria: p.rollout.criteria };
  try {
    return await acts.analysis.analyzeStep(input);
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    const none = (version: string) => ({ version, requests: 0, errors: 0, p99Seconds: null, latencySamples: 0, predictions: {} });
    const empty: LiveMetrics = { champion: none(p.championVersion), candidate: none(p.model.version), agreement: { agree: 0, total: 0 }, windowSeconds: 0 };
    const e = decideStep(empty, step, p.rollout.criteria, elapsedMs);
    return { ...e, reason: `analysis failed (${failureMessage(err)}): ${e.reason}` };
  }
}
