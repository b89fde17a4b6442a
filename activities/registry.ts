import { VERSION_TAGS, tagsOf, type MlflowClient, type ModelVersion } from '../lib/mlflow/client';
import type { ChampionInfo, PromotionDecision, RegisteredVersion, ResolvedDataset, RunInfo, TrainedModel } from '../lib/lifecycle/types';
import { PermanentError } from '../lib/lifecycle/errors';
import { metricKey } from './lineage';
import { escapeFilter } from './tracking';

export const CHAMPION_ALIAS = 'champion';
export const CHALLENGER_ALIAS = 'challenger';
export const METRIC_TAG_PREFIX = 'lifecycle.metric.';
const EVAL_TAG = /^lifecycle\.eval\.([0-9a-f]{64})\.(.+)$/;

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
export async function registerModel(mlflow: MlflowClient, input: RegisterInput): Promise<RegisteredVersion> {
  const { modelName, run, trained, dataset } = input;
  await mlflow.ensureRegisteredModel(modelName, 'Lifecycle model; versions are MLflow ONNX models with serving metadata.');
  const existing = await mlflow.searchModelVersions(`name='${escapeFilter(modelName)}' and run_id='${escapeFilter(run.runId)}'`);
  const tags: Record<string, string> = {
    [VERSION_TAGS.sha256]: trained.sha256,
    [VERSION_TAGS.onnxUri]: trained.onnxUri,
    [VERSION_TAGS.runId]: run.runId,
    [VERSION_TAGS.datasetDigest]: dataset.digest,
    [VERSION_TAGS.testSplitDigest]: trained.splits.test,
    'lifecycle.dataset.train_digest': trained.splits.train,
    'lifecycle.dataset.name': dataset.name,
    'lifecycle.dataset.repo': dataset.repo,
    'lifecycle.dataset.path': dataset.path,
    'lifecycle.dataset.commit': dataset.commit,
    'lifecycle.dataset.source': dataset.source,
    'lifecycle.model_uri': trained.modelUri,
    'lifecycle.model_id': trained.modelId,
    'lifecycle.trainer': trained.trainerVersion,
    'lifecycle.workflow_id': input.workflowId,
    ...Object.fromEntries(Object.entries(trained.metrics).map(([k, v]) => [metricKey(`${METRIC_TAG_PREFIX}${k}`), String(v)])),
  };
  const mv = existing[0] ?? (await mlflow.createModelVersion(modelName, trained.modelUri, run.runId, tags, trained.modelId));
  await mlflow.setAlias(modelName, CHALLENGER_ALIAS, mv.version);
  return { name: modelName, version: mv.version };
}

/** The current champion with its recorded metric, split digest and earlier evaluations, or null when there is none. */
export async function getChampion(mlflow: MlflowClient, modelName: string, metric: string): Promise<ChampionInfo | null> {
  const mv = await mlflow.getModelVersionByAlias(modelName, CHAMPION_ALIAS);
  if (!mv) return null;
  const tags = tagsOf(mv);
  const evaluations: Record<string, number> = {};
  for (const [key, value] of Object.entries(tags)) {
    const m = EVAL_TAG.exec(key);
    if (m && m[2] === metric && Number.isFinite(Number(value))) evaluations[m[1]!] = Number(value);
  }
  return { version: mv.version, metric: numberTag(tags, `${METRIC_TAG_PREFIX}${metric}`), splitDigest: tags[VERSION_TAGS.testSplitDigest] ?? null, evaluations };
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
  const commit = tags['lifecycle.dataset.commit'];
  const digest = tags[VERSION_TAGS.datasetDigest];
  const dataset: ResolvedDataset | null =
    commit && digest && tags['lifecycle.dataset.repo'] && tags['lifecycle.dataset.path']
      ? {
          repo: tags['lifecycle.dataset.repo'],
          path: tags['lifecycle.dataset.path'],
          rev: commit,
          commit,
          digest,
          nfiles: 0,
          sizeBytes: 0,
          source: tags['lifecycle.dataset.source'] ?? '',
          name: tags['lifecycle.dataset.name'] ?? tags['lifecycle.dataset.path'].split('/').pop() ?? '',
        }
      : null;
  return {
    model,
    metric: numberTag(tags, `${METRIC_TAG_PREFIX}${metric}`),
    splitDigest: tags[VERSION_TAGS.testSplitDigest] ?? null,
    dataset,
    runId: mv.run_id ?? tags[VERSION_TAGS.runId] ?? null,
  };
}

/** Writes the promotion-gate evidence onto the candidate version, whatever the outcome. */
export async function recordDecision(mlflow: MlflowClient, model: RegisteredVersion, decision: PromotionDecision): Promise<void> {
  const tags: Record<string, string> = {
    'lifecycle.gate.metric': decision.metric,
    'lifecycle.gate.candidate': String(decision.candidate),
    'lifecycle.gate.champion': decision.champion === null ? 'none' : String(decision.champion),
    'lifecycle.gate.champion_version': decision.championVersion ?? 'none',
    'lifecycle.gate.champion_source': decision.championSource,
    'lifecycle.gate.split_digest': decision.splitDigest ?? 'unknown',
    'lifecycle.gate.decision': decision.promote ? 'promote' : decision.forced ? 'forced' : 'reject',
    'lifecycle.gate.reason': decision.reason,
  };
  if (!decision.promote && !decision.forced) tags[VERSION_TAGS.outcome] = 'rejected';
  for (const [key, value] of Object.entries(tags)) await mlflow.setModelVersionTag(model.name, model.version, key, value);
}

/**
 * The saga's pivot: moves `champion` to the version. Idempotent (a retry after
 * a lost response finds the alias already there); the replaced version is
 * recorded on the new champion so `rollback` knows where to go back to.
 */
export async function setChampion(mlflow: MlflowClient, model: RegisteredVersion): Promise<{ previous: string | null }> {
  const current = await mlflow.getModelVersionByAlias(model.name, CHAMPION_ALIAS);
  const recorded = tagsOf(await mlflow.getModelVersion(model.name, model.version))[VERSION_TAGS.previousChampion];
  if (current?.version === model.version) return { previous: recorded && recorded !== 'none' ? recorded : null };
  const previous = current?.version ?? null;
  await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.previousChampion, previous ?? 'none');
  await mlflow.setAlias(model.name, CHAMPION_ALIAS, model.version);
  await mlflow.setModelVersionTag(model.name, model.version, VERSION_TAGS.outcome, 'promoted');
  return { previous };
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

function numberTag(tags: Record<string, string>, key: string): number | null {
  const raw = tags[key];
  const value = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(value) ? value : null;
}
