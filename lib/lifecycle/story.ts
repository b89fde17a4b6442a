/**
 * One line that tells what a lifecycle execution did, for the Temporal UI
 * (workflow current details, start summaries, activity summaries) and the CLI:
 * "train fashion-mnist-classifier on fashion-mnist-v2@a8c8c0f -> v7, rejected:
 * test_accuracy 0.8730 vs champion v6 0.9200 on split ffa073". Pure, so the
 * workflow bundle can render it deterministically.
 */
import type { WorkflowProgress } from './progress';
import type { LifecycleOutcome } from './search-attributes';
import type { PromotionDecision } from './types';

export type StoryKind = 'train' | 'promote' | 'rollback';

export interface StoryContext {
  kind: StoryKind;
  /** What the caller asked for, shown until the dataset is resolved. */
  datasetRef?: { path?: string; rev?: string };
  /** The version asked for (promote). */
  version?: string;
  force?: boolean;
  outcome?: LifecycleOutcome;
}

const SHORT_SPLIT = 6;
const MAX_ERROR = 160;

/** The start of the story: what was asked (known before anything ran; the static summary of a start). */
export function storyHead(modelName: string, c: StoryContext, p?: Pick<WorkflowProgress, 'dataset' | 'model'>): string {
  if (c.kind === 'train') {
    const data = p?.dataset ? `${p.dataset.name}@${p.dataset.commit.slice(0, 7)}` : `${c.datasetRef?.path ?? 'the default dataset'}@${c.datasetRef?.rev ?? 'HEAD'}`;
    return `train ${modelName} on ${data}${p?.model ? ` -> v${p.model.version}` : ''}`;
  }
  const version = p?.model?.version ?? c.version;
  if (c.kind === 'rollback') return `roll ${modelName} back${version ? ` to v${version}` : ''}`;
  return `promote ${modelName} v${version ?? '?'}${c.force ? ' (--force)' : ''}`;
}

/** The gate's numbers in a few words: "test_accuracy 0.8730 vs champion v6 0.9200 on split ffa073". */
export function gateWords(d: PromotionDecision): string {
  const split = d.splitDigest ? ` on split ${d.splitDigest.slice(0, SHORT_SPLIT)}` : '';
  const candidate = Number.isFinite(d.candidate) ? d.candidate.toFixed(4) : 'n/a';
  if (d.championVersion === null) return `${d.metric} ${candidate}${split}, first champion`;
  const champion = d.champion === null ? 'not measured' : d.champion.toFixed(4);
  return `${d.metric} ${candidate} vs champion v${d.championVersion} ${champion}${split}`;
}

/** The whole line for the execution as it stands now. */
export function storyOf(p: WorkflowProgress, c: StoryContext): string {
  const head = storyHead(p.modelName, c, p);
  const outcome = c.outcome;
  if (outcome === 'failed') return `${head}, failed: ${clip(p.error ?? 'unknown error')}`;
  if (outcome === 'cancelled') return `${head}, cancelled`;
  if (outcome && p.decision) return `${head}, ${outcome}${p.decision.forced && c.kind !== 'rollback' ? ' (forced)' : ''}: ${gateWords(p.decision)}`;
  if (outcome) return `${head}, ${outcome}`;
  return `${head}: ${p.step}${p.detail ? ` (${clip(p.detail)})` : ''}`;
}

/** The outcome of a finished promotion: a rollback that went through is told apart from a promotion. */
export function promotionOutcome(kind: StoryKind, promoted: boolean, rolledBack = false): LifecycleOutcome {
  if (rolledBack) return 'rolled-back';
  if (!promoted) return 'rejected';
  return kind === 'rollback' ? 'rolled-back' : 'promoted';
}

function clip(s: string): string {
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > MAX_ERROR ? `${line.slice(0, MAX_ERROR - 1)}…` : line;
}
