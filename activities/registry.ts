import { Context } from '@temporalio/activity';
import { VERSION_TAGS, tagsOf, type MlflowClient, type ModelVersion } from '../lib/mlflow/client';
import type { ChampionInfo, PromotionDecision, RegisteredVersion, ResolvedDataset, RunInfo, TrainedModel } from '../lib/lifecycle/types';
import { PermanentError } from '../lib/lifecycle/errors';
import { gateWords } from '../lib/lifecycle/story';
import { EVAL_METRIC } from './evaluation-keys';
import { escapeFilter } from './tracking';
import { appendChampionHistory, gateEvidenceOf, refreshVersionDescription, runOf, stamp, versionMetric, type GateEvidence } from './version-story';

export const CHAMPION_ALIAS = 'champion';
export const CHALLENGER_ALIAS = 'challenger';
/** Evaluations older releases kept as version tags (now run metrics, see EVAL_METRIC). */
const LEGACY_EVAL_TAG = /^lifecycle\.eval\.([0-9a-f]{64})\.(.+)$/;

/** Who acts on the registry, and when: the calling workflow, and when the activity was first scheduled (stable across retries). */
export interface Actor {
  by: string;
  at: number;
}

/** The calling workflow, read from the activity context (falls back to "unknown" outside an activity). */
export function currentActor(): Actor {
  try {
    const info = Context.current().info;
    return { by: `${info.workflowType ?? "activity"} ${info.workflowExecution?.workflowId ?? info.activityId}`, at: info.scheduledTimestampMs };
  } catch {
    return { by: 'unknown', at: Date.now() };
  }
}

export interface RegisterInput {
  modelName: string;
  run: RunInfo;
  trained: TrainedModel;
  dataset: ResolvedDataset;
  workflowId: string;
}

/** A registered version as the gate sees it: its metric, the split it was measured on, and its pinned dataset. */
export interface VersionInfo {
  model: RegisteredVersion;
  metric: number | null;
  splitDigest: string | null;
  dataset: ResolvedDataset | null;
  runId: string | null;
}

/**
 * Registers the run's MLflow-native model as a new version (source
 * `models:/m-...`, linked by model id), or returns the version a previous
 * attempt already registered for this run: one run per execution, one version
 * per run. The version is created with every tag in one call, so it is never
 * seen half-registered.
 */
export async function registerModel(mlflow: MlflowClient, input: RegisterInput, actor: Actor = currentActor()): Promise<RegisteredVersion> {
  const { modelName, run, trained, dataset } = input;
  await mlflow.ensureRegisteredModel(modelName, 'Lifecycle model; versions are MLflow ONNX models with serving metadata.');
  const existing = await mlflow.searchModelVersions(`name='${escapeFilter(modelName)}' and run_id='${escapeFilter(run.runId)}'`);
  // Only what machines read (VERSION_TAGS); the dataset, trainer, metrics and workflow are facts of the run.
  const tags: Record<string, string> = {
    [VERSION_TAGS.sha256]: trained.sha256,
    [VERSION_TAGS.onnxUri]: trained.onnxUri,
    [VERSION_TAGS.modelId]: trained.modelId,
    [VERSION_TAGS.datasetDigest]: dataset.digest,
    [VERSION_TAGS.testSplitDigest]: trained.splits.test,
  };
  const mv = existing[0] ?? (await mlflow.createModelVersion(modelName, trained.modelUri, run.runId, tags, trained.modelId));
  await mlflow.setAlias(modelName, CHALLENGER_ALIAS, mv.version);
  await refreshVersionDescription(mlflow, modelName, mv.version, `${stamp(actor.at)} registered from run ${run.runId.slice(0, 8)} by ${actor.by}`);
  return { name: modelName, version: mv.version };
}

/** The current champion with its recorded metric, split digest and earlier evaluations, or null when there is none. */
export async function getChampion(mlflow: MlflowClient, modelName: string, metric: string): Promise<ChampionInfo | null> {
  const mv = await mlflow.getModelVersionByAlias(modelName, CHAMPION_ALIAS);
  if (!mv) return null;
  const tags = tagsOf(mv);
  const run = await runOf(mlflow, mv);
  const evaluations: Record<string, number> = {};
  for (const [key, value] of Object.entries(tags)) {
    const m = LEGACY_EVAL_TAG.exec(key);
    if (m && m[2] === metric && Number.isFinite(Number(value))) evaluations[m[1]!] = Number(value);
  }
  for (const { key, value } of run?.data.metrics ?? []) {
    const m = EVAL_METRIC.parse(key);
    if (m && m.metric === metric && Number.isFinite(value)) evaluations[m.split] = value;
  }
  return { version: mv.version, metric: versionMetric(mv, run, metric), splitDigest: tags[VERSION_TAGS.testSplitDigest] ?? null, evaluations };
}

/** A version of `modelName` with what the gate needs; bad input (unknown version) is not retryable. */
export async function getVersionInfo(mlflow: MlflowClient, model: RegisteredVersion, metric: string): Promise<VersionInfo> {
  let mv: ModelVersion;
  try {
    mv = await mlflow.getModelVersion(model.name, model.version);
  } catch (err) {
    if ((err as { notFound?: boolean }).notFound) throw new PermanentError(`${model.name} has no version ${model.version}`, 'VERSION_NOT_FOUND');
    throw err;
  }
  const tags = tagsOf(mv);
  const run = await runOf(mlflow, mv);
  // The dataset's coordinates are tags of the run (older versions carried a copy as version tags).
  const fact = (key: string) => (run ? tagsOf(run)[key] : undefined) ?? tags[key];
  const commit = fact('lifecycle.dataset.commit');
  const digest = tags[VERSION_TAGS.datasetDigest] ?? fact('lifecycle.dataset.digest');
  const repo = fact('lifecycle.dataset.repo');
  const path = fact('lifecycle.dataset.path');
  const dataset: ResolvedDataset | null =
    commit && digest && repo && path
      ? { repo, path, rev: commit, commit, digest, nfiles: 0, sizeBytes: 0, source: fact('lifecycle.dataset.source') ?? '', name: fact('lifecycle.dataset.name') ?? path.split('/').pop() ?? '' }
      : null;
  return {
    model,
    metric: versionMetric(mv, run, metric),
    splitDigest: tags[VERSION_TAGS.testSplitDigest] ?? null,
    dataset,
    runId: run?.info.run_id ?? mv.run_id ?? null,
  };
}

/** Writes the promotion-gate evidence onto the candidate version (one JSON tag), whatever the outcome, and tells it in the description. */
export async function recordDecision(mlflow: MlflowClient, model: RegisteredVersion, decision: PromotionDecision, actor: Actor = currentActor()): Promise<void> {
  const evidence: GateEvidence = {
    ...decision,
    decision: decision.promote ? 'promote' : decision.forced ? 'forced' : 'reject',
    by: actor.by,
    at: new Date(actor.at).toISOString(),
  };
  await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.gate, JSON.stringify(evidence));
  if (!decision.promote && !decision.forced) await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.outcome, 'rejected');
  const event = `${stamp(actor.at)} gate by ${actor.by}: ${evidence.decision}${decision.rollback ? ' (rollback)' : ''}, ${gateWords(decision)}${decision.note ? `; reason: ${decision.note}` : ''}`;
  await refreshVersionDescription(mlflow, model.name, model.version, event);
}

/**
 * The saga's pivot: moves `champion` to the version. Idempotent (a retry after
 * a lost response finds the alias already there); the replaced version is
 * recorded on the new champion so `rollback` knows where to go back to.
 */
export async function setChampion(mlflow: MlflowClient, model: RegisteredVersion, actor: Actor = currentActor()): Promise<{ previous: string | null }> {
  const current = await mlflow.getModelVersionByAlias(model.name, CHAMPION_ALIAS);
  const target = await mlflow.getModelVersion(model.name, model.version);
  const recorded = tagsOf(target)[VERSION_TAGS.previousChampion];
  if (current?.version === model.version) {
    const previous = recorded && recorded !== 'none' ? recorded : null;
    // A retry after a lost response: the alias moved, the story may not have been told yet (each write is idempotent).
    await tellChampion(mlflow, model, previous, target, actor);
    return { previous };
  }
  const previous = current?.version ?? null;
  await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.previousChampion, previous ?? 'none');
  await mlflow.setAlias(model.name, CHAMPION_ALIAS, model.version);
  await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.outcome, 'promoted');
  await tellChampion(mlflow, model, previous, target, actor);
  return { previous };
}

/**
 * The alias move told to people: an entry in the registered model's champion
 * history, the new champion's description, and the replaced one's (a version a
 * rollback moved away from is marked `rolled-back`).
 */
async function tellChampion(mlflow: MlflowClient, model: RegisteredVersion, previous: string | null, target: ModelVersion, actor: Actor): Promise<void> {
  const gate = gateEvidenceOf(target);
  const why = gate ? `${gate.rollback ? 'rollback' : gate.decision === 'forced' ? 'forced promotion' : 'promotion'}: ${gateWords(gate)}${gate.note ? `; reason: ${gate.note}` : ''}` : 'promotion';
  const when = stamp(actor.at);
  await appendChampionHistory(mlflow, model.name, `${when} v${model.version}${previous ? ` replaced v${previous}` : ' became the first champion'} by ${actor.by} (${why})`);
  await refreshVersionDescription(mlflow, model.name, model.version, `${when} champion${previous ? ` in place of v${previous}` : ''} by ${actor.by} (${why})`);
  if (previous && previous !== model.version) {
    if (gate?.rollback) await mlflow.setModelVersionTag(model.name, previous, VERSION_TAGS.outcome, 'rolled-back');
    await refreshVersionDescription(mlflow, model.name, previous, `${when} ${gate?.rollback ? 'rolled back' : 'replaced as champion'}: v${model.version} took over (${actor.by})`);
  }
}

/** The version the current champion replaced (for `rollback`); bad input when there is none. */
export async function rollbackTarget(mlflow: MlflowClient, modelName: string): Promise<RegisteredVersion> {
  const champion = await mlflow.getModelVersionByAlias(modelName, CHAMPION_ALIAS);
  if (!champion) throw new PermanentError(`${modelName} has no champion to roll back`, 'NOTHING_TO_ROLL_BACK');
  const previous = tagsOf(champion)[VERSION_TAGS.previousChampion];
  if (!previous || previous === 'none') throw new PermanentError(`${modelName} v${champion.version} replaced no earlier champion`, 'NOTHING_TO_ROLL_BACK');
  return { name: modelName, version: previous };
}

/** The current champion's version number, or null (the saga re-checks it after taking the rollout lease). */
export async function championVersion(mlflow: MlflowClient, modelName: string): Promise<string | null> {
  return (await mlflow.getModelVersionByAlias(modelName, CHAMPION_ALIAS))?.version ?? null;
}
