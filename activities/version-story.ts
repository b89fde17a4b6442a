/**
 * The registry told to people: each version's description says what the
 * version is (metric on which split, dataset), what the gate decided with both
 * numbers, where it stands, and what happened to it (registered, gated,
 * promoted by whom, replaced, failed); the registered model's description keeps
 * the champion history, which MLflow does not (an alias move leaves no trace).
 * Facts come from the version's few machine tags and from its run; the events
 * are appended by the activities that cause them, so every write is idempotent
 * (an event already in the list is not added twice).
 */
import { LEGACY_VERSION_TAGS, VERSION_TAGS, tagsOf, type MlflowClient, type ModelVersion, type Run } from '../lib/mlflow/client';
import { gateWords } from '../lib/lifecycle/story';
import type { PromotionDecision } from '../lib/lifecycle/types';

/** What recordDecision keeps on a version (VERSION_TAGS.gate): the decision, who made it, when. */
export interface GateEvidence extends PromotionDecision {
  decision: 'promote' | 'reject' | 'forced';
  /** "<workflow type> <workflow id>" of the execution that gated. */
  by: string;
  /** ISO time. */
  at: string;
}

/** MLflow stores descriptions in VARCHAR(5000) on PostgreSQL: stay well inside it. */
const MAX_DESCRIPTION = 4000;
const MAX_EVENTS = 12;
const EVENTS_HEADER = 'Events:';
export const CHAMPION_HISTORY_HEADER = 'Champion history (newest first):';

export function gateEvidenceOf(mv: ModelVersion): GateEvidence | null {
  const raw = tagsOf(mv)[VERSION_TAGS.gate];
  if (!raw) return null;
  try {
    return JSON.parse(raw) as GateEvidence;
  } catch {
    return null;
  }
}

/** A run metric (the latest value), or the legacy `lifecycle.metric.*` version tag. */
export function versionMetric(mv: ModelVersion, run: Run | null, metric: string): number | null {
  const fromRun = run?.data.metrics?.find((m) => m.key === metric)?.value;
  const raw = fromRun ?? Number(tagsOf(mv)[`${LEGACY_VERSION_TAGS.metricPrefix}${metric}`]);
  return raw !== undefined && Number.isFinite(raw) ? raw : null;
}

/** The version's run, or null (a version registered by hand or by a drill may have none, or a deleted one). */
export async function runOf(mlflow: MlflowClient, mv: ModelVersion): Promise<Run | null> {
  const runId = mv.run_id || tagsOf(mv)[LEGACY_VERSION_TAGS.runId];
  if (!runId) return null;
  try {
    return await mlflow.getRun(runId);
  } catch (err) {
    if ((err as { notFound?: boolean }).notFound) return null;
    throw err;
  }
}

/** The lines that describe the version as it stands (re-rendered on every change). */
export function describeVersion(mv: ModelVersion, run: Run | null): string[] {
  const tags = tagsOf(mv);
  const runTags = run ? tagsOf(run) : {};
  const gate = gateEvidenceOf(mv);
  const metric = gate?.metric ?? 'test_accuracy';
  const value = versionMetric(mv, run, metric);
  const split = tags[VERSION_TAGS.testSplitDigest] ?? runTags['lifecycle.dataset.test_digest'];
  const name = runTags['lifecycle.dataset.name'] ?? tags['lifecycle.dataset.name'];
  const commit = runTags['lifecycle.dataset.commit'] ?? tags['lifecycle.dataset.commit'];
  const digest = tags[VERSION_TAGS.datasetDigest] ?? runTags['lifecycle.dataset.digest'];
  const data = name ? `${name}@${(commit ?? '?').slice(0, 7)}${digest ? ` (DVC md5 ${digest.slice(0, 8)})` : ''}` : 'an unrecorded dataset';
  const lines = [
    `**${metric} ${value === null ? 'n/a' : value.toFixed(4)}** on held-out split ${split ? split.slice(0, 6) : 'unknown'} of ${data}` +
      (runTags['lifecycle.workflow_id'] ? `, trained by workflow ${runTags['lifecycle.workflow_id']}` : '') +
      '.',
  ];
  const outcome = tags[VERSION_TAGS.outcome];
  const champion = (mv.aliases ?? []).includes('champion');
  const state = champion ? 'champion' : outcome ? outcome : gate ? 'gated' : 'candidate (gate pending)';
  lines.push(`Outcome: **${state}**${gate ? `. Gate: ${gateWords(gate)}: ${gate.decision}${gate.rollback ? ' (rollback)' : ''}` : ''}.`);
  return lines;
}

/** The events already in a description (the bullet lines after "Events:"). */
function eventsOf(description: string | undefined): string[] {
  const text = description ?? '';
  const at = text.indexOf(EVENTS_HEADER);
  if (at < 0) return [];
  return text
    .slice(at + EVENTS_HEADER.length)
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
}

/** Renders the description with `event` appended (once); the oldest events go first when it grows too long. */
export function versionDescription(mv: ModelVersion, run: Run | null, event?: string): string {
  const events = eventsOf(mv.description);
  if (event && !events.includes(event)) events.push(event);
  const head = describeVersion(mv, run).join('\n\n');
  let kept = events.slice(-MAX_EVENTS);
  const render = () => (kept.length ? `${head}\n\n${EVENTS_HEADER}\n${kept.map((e) => `- ${e}`).join('\n')}` : head);
  while (render().length > MAX_DESCRIPTION && kept.length > 1) kept = kept.slice(1);
  return render().slice(0, MAX_DESCRIPTION);
}

/** Re-reads the version and its run and writes the description, with `event` recorded. */
export async function refreshVersionDescription(mlflow: MlflowClient, name: string, version: string, event?: string): Promise<void> {
  const mv = await mlflow.getModelVersion(name, version);
  const description = versionDescription(mv, await runOf(mlflow, mv), event);
  if (description !== mv.description) await mlflow.updateModelVersionDescription(name, version, description);
}

/** "2026-12-03 07:41 UTC": minutes are enough for a person, and equal strings make appends idempotent. */
export function stamp(at: Date | string | number): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Adds one entry to the champion history in the registered model's description
 * (newest first). The entry is keyed by its text, so a retried alias move does
 * not record it twice; the oldest entries give way when the description would
 * outgrow MLflow's column.
 */
export async function appendChampionHistory(mlflow: MlflowClient, modelName: string, entry: string): Promise<void> {
  const model = await mlflow.getRegisteredModel(modelName);
  const text = model?.description ?? '';
  const at = text.indexOf(CHAMPION_HISTORY_HEADER);
  const intro = (at < 0 ? text : text.slice(0, at)).trim();
  const entries = (at < 0 ? [] : text.slice(at + CHAMPION_HISTORY_HEADER.length).split('\n'))
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
  if (entries.includes(entry)) return;
  entries.unshift(entry);
  const render = (list: string[]) => `${intro ? `${intro}\n\n` : ''}${CHAMPION_HISTORY_HEADER}\n${list.map((e) => `- ${e}`).join('\n')}`;
  let kept = entries;
  while (render(kept).length > MAX_DESCRIPTION && kept.length > 1) kept = kept.slice(0, -1);
  await mlflow.updateRegisteredModelDescription(modelName, render(kept));
}

/** The champion history entries, newest first (for the CLI and tests). */
export function championHistory(description: string | undefined): string[] {
  const text = description ?? '';
  const at = text.indexOf(CHAMPION_HISTORY_HEADER);
  if (at < 0) return [];
  return text
    .slice(at + CHAMPION_HISTORY_HEADER.length)
    .split('\n')
    .filter((l) => l.startsWith('- '))
    .map((l) => l.slice(2));
}
