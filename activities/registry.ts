import { VERSION_TAGS, tagsOf, type MlflowClient } from '../lib/mlflow/client';
import type { ChampionInfo, PromotionDecision, RegisteredVersion, ResolvedDataset, RunInfo, TrainedModel } from '../lib/lifecycle/types';
import { escapeFilter } from './tracking';

export const CHAMPION_ALIAS = 'champion';
export const CHALLENGER_ALIAS = 'challenger';
const METRIC_TAG_PREFIX = 'lifecycle.metric.';

export interface RegisterInput {
  modelName: string;
  run: RunInfo;
  trained: TrainedModel;
  dataset: ResolvedDataset;
}

/**
 * Registers the run's ONNX model as a new version (or returns the version a
 * previous attempt already registered for this run) and marks it `challenger`.
 */
export async function registerModel(mlflow: MlflowClient, input: RegisterInput): Promise<RegisteredVersion> {
  const { modelName, run, trained, dataset } = input;
  await mlflow.ensureRegisteredModel(modelName, 'Lifecycle model; versions are ONNX files with serving metadata.');
  const existing = await mlflow.searchModelVersions(`name='${escapeFilter(modelName)}' and run_id='${escapeFilter(run.runId)}'`);
  const tags: Record<string, string> = {
    [VERSION_TAGS.sha256]: trained.sha256,
    [VERSION_TAGS.onnxUri]: trained.onnxUri,
    [VERSION_TAGS.runId]: run.runId,
    [VERSION_TAGS.datasetDigest]: dataset.digest,
    'lifecycle.dataset.source': dataset.source,
    'lifecycle.trainer': trained.trainerVersion,
    ...Object.fromEntries(Object.entries(trained.metrics).map(([k, v]) => [`${METRIC_TAG_PREFIX}${k}`, String(v)])),
  };
  const mv = existing[0] ?? (await mlflow.createModelVersion(modelName, `${run.artifactUri}/model`, run.runId, tags));
  await mlflow.setAlias(modelName, CHALLENGER_ALIAS, mv.version);
  return { name: modelName, version: mv.version };
}

/** The current champion and its recorded value of `metric`, or null when there is none yet. */
export async function getChampion(mlflow: MlflowClient, modelName: string, metric: string): Promise<ChampionInfo | null> {
  const mv = await mlflow.getModelVersionByAlias(modelName, CHAMPION_ALIAS);
  if (!mv) return null;
  const raw = tagsOf(mv)[`${METRIC_TAG_PREFIX}${metric}`];
  const value = raw === undefined ? NaN : Number(raw);
  return { version: mv.version, metric: Number.isFinite(value) ? value : null };
}

/** Writes the promotion-gate evidence onto the candidate version, whatever the outcome. */
export async function recordDecision(mlflow: MlflowClient, model: RegisteredVersion, decision: PromotionDecision): Promise<void> {
  const tags: Record<string, string> = {
    'lifecycle.gate.metric': decision.metric,
    'lifecycle.gate.candidate': String(decision.candidate),
    'lifecycle.gate.champion': decision.champion === null ? 'none' : String(decision.champion),
    'lifecycle.gate.champion_version': decision.championVersion ?? 'none',
    'lifecycle.gate.decision': decision.promote ? 'promote' : 'reject',
    'lifecycle.gate.reason': decision.reason,
  };
  for (const [key, value] of Object.entries(tags)) await mlflow.setModelVersionTag(model.name, model.version, key, value);
}

export async function setChampion(mlflow: MlflowClient, model: RegisteredVersion): Promise<void> {
  await mlflow.setAlias(model.name, CHAMPION_ALIAS, model.version);
}
