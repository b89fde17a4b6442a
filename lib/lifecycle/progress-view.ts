/**
 * Renders a lifecycle workflow's progress (its `progress` query plus the
 * heartbeat details of its pending activities) as text lines: the CLI's live
 * view and `make up`'s bootstrap. Pure, so the layout is unit-tested.
 */
import type { RolloutBeat, Stage, StageName, TrainingBeat, WorkflowProgress } from './progress';
import type { PromotionDecision } from './types';
import { rolloutLines } from './rollout-view';

export interface PendingActivity {
  type: string;
  attempt: number;
  details: unknown;
  lastFailure?: string;
}

export interface WorkflowSnapshot {
  workflowId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT... */
  status: string;
  progress: WorkflowProgress | null;
  pending: PendingActivity[];
}

const ICON: Record<Stage['state'], string> = { pending: '·', running: '▶', done: '✔', skipped: '–', failed: '✘', compensated: '↺' };
const LABEL: Record<StageName, string> = {
  dataset: 'dataset',
  run: 'MLflow run',
  training: 'training',
  registration: 'registration',
  gate: 'gate',
  rollout: 'rollout',
  alias: 'champion',
};

export function progressBar(fraction: number, width = 24): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.round(f * 100)).padStart(3)}%`;
}

const num = (v: unknown, digits = 4) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '—');

/** One line for the training stage from the trainer's heartbeat: dataset phase, or an epoch bar with loss and accuracy. */
export function trainingLine(beat: TrainingBeat, attempt: number): string {
  const retry = attempt > 1 ? ` (attempt ${attempt}${beat.resumedFromEpoch ? `, resumed after epoch ${beat.resumedFromEpoch}` : ''})` : '';
  if (beat.phase === 'dataset' || beat.phase === 'starting' || beat.phase === 'uploading' || beat.phase === 'logging-model') {
    return `${beat.message ?? beat.phase}${retry}`;
  }
  const { epoch, epochs, step, steps_per_epoch: spe } = beat;
  if (typeof epochs !== 'number' || typeof epoch !== 'number') return `starting${retry}`;
  const fraction = typeof step === 'number' && typeof spe === 'number' && spe > 0 ? step / (epochs * spe) : (beat.event === 'epoch' ? epoch : epoch - 1) / epochs;
  const acc = beat.val_accuracy ?? beat.train_accuracy;
  return `epoch ${epoch}/${epochs} ${progressBar(fraction)}  loss ${num(beat.loss)}  acc ${num(acc)}${retry}`;
}

/** "worker i of n" from the rollout activities' heartbeat. */
export function rolloutLine(beat: RolloutBeat): string {
  const done = beat.done ?? beat.index;
  const of = beat.of ?? beat.total;
  if (beat.phase === 'waiting-for-lease') return `waiting for the rollout lease${typeof beat.heldBy === 'string' ? ` (held by ${beat.heldBy})` : ''}`;
  const where = typeof done === 'number' && typeof of === 'number' ? `worker ${Math.min(done + 1, of)} of ${of}` : 'starting';
  return `${beat.phase ?? 'rollout'} v${beat.version ?? '?'}: ${where}${beat.worker ? ` (${beat.worker})` : ''}`;
}

/** "candidate X vs champion vN Y (split …, re-evaluated) → promote". */
export function decisionLine(d: PromotionDecision): string {
  const champion = d.championVersion ? `champion v${d.championVersion} ${num(d.champion)}${d.championSource === 'evaluated' ? ' (re-evaluated)' : ''}` : 'no champion';
  const split = d.splitDigest ? ` on test split ${d.splitDigest.slice(0, 12)}` : '';
  const verdict = d.promote ? 'promote' : d.forced ? 'reject, forced' : 'reject';
  return `${d.metric} ${num(d.candidate)} vs ${champion}${split} → ${verdict}`;
}

/** The activity that carries a stage's live detail. */
const STAGE_ACTIVITIES: Partial<Record<StageName, string[]>> = {
  dataset: ['resolveDataset'],
  training: ['trainModel'],
  gate: ['evaluateVersion'],
  rollout: ['acquireRolloutLease', 'deployModel', 'restoreFleet', 'finalizeRollout', 'setTraffic', 'clearTraffic'],
};

function liveDetail(stage: Stage, pending: PendingActivity[]): string | undefined {
  const activity = pending.find((p) => STAGE_ACTIVITIES[stage.name]?.includes(p.type));
  if (!activity) return undefined;
  const failure = activity.lastFailure ? `  (retrying: ${activity.lastFailure.slice(0, 80)})` : '';
  if (activity.type === 'trainModel') return trainingLine((activity.details ?? {}), activity.attempt) + failure;
  if (activity.type === 'evaluateVersion') {
    const d = (activity.details ?? {}) as { done?: number; of?: number };
    return `re-evaluating the champion on the candidate's test split ${typeof d.done === 'number' && d.of ? progressBar(d.done / d.of) : ''}${failure}`;
  }
  if (STAGE_ACTIVITIES.rollout?.includes(activity.type)) return rolloutLine((activity.details ?? {}) as RolloutBeat) + failure;
  const message = (activity.details as { message?: unknown } | undefined)?.message;
  return (typeof message === 'string' ? message : undefined) ?? (failure || undefined);
}

/** The whole view: a header line and one line per stage. */
export function renderProgress(s: WorkflowSnapshot): string[] {
  const p = s.progress;
  const lines = [`${p?.workflow ?? 'workflow'} ${s.workflowId}${p ? `  model ${p.modelName}` : ''}  [${s.status}]`];
  if (!p) return [...lines, s.status === 'RUNNING' ? '  (no progress yet: is a pipeline worker polling its task queue?)' : '  (no progress reported)'];
  for (const stage of p.stages) {
    let detail = (stage.state === 'running' ? liveDetail(stage, s.pending) : undefined) ?? stage.detail ?? '';
    if (stage.name === 'gate' && p.decision && stage.state === 'done') detail = decisionLine(p.decision);
    const took = stage.startedAt !== undefined && stage.endedAt !== undefined ? `  ${((stage.endedAt - stage.startedAt) / 1000).toFixed(1)} s` : '';
    lines.push(`  ${ICON[stage.state]} ${LABEL[stage.name].padEnd(13)}${detail}${took}`);
    if (stage.name === 'rollout' && p.rollout) lines.push(...rolloutLines(p.rollout));
  }
  if (p.error && s.status !== 'RUNNING') lines.push(`  ${p.step}: ${p.error}`);
  return lines;
}
