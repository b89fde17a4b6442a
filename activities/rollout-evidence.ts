import { VERSION_TAGS, type MlflowClient } from '../lib/mlflow/client';
import { recordTagValue, rolloutRecordSchema, type RolloutRecord } from '../lib/analysis/rollout-record';
import type { RegisteredVersion } from '../lib/lifecycle/types';
import { currentActor, type Actor } from './registry';
import { refreshVersionDescription, stamp } from './version-story';

export interface RolloutEvidenceInput {
  model: RegisteredVersion;
  record: RolloutRecord;
}

/**
 * Writes a progressive rollout's evidence on the candidate version (one tag,
 * rewritten whole after each step: idempotent under retries). A rollout that
 * ends rolled back also marks the version's outcome and tells it in the
 * version's description; the `champion` alias is never touched here.
 */
export async function recordRolloutEvidence(mlflow: MlflowClient, input: RolloutEvidenceInput, actor: Actor = currentActor()): Promise<void> {
  const record = rolloutRecordSchema.parse(input.record);
  const { name, version } = input.model;
  await mlflow.setModelVersionTag(name, version, VERSION_TAGS.rollout, recordTagValue(record));
  if (record.outcome === 'in-progress') return;
  if (record.outcome === 'rolled-back') await mlflow.setModelVersionTag(name, version, VERSION_TAGS.outcome, 'rolled-back');
  const last = record.steps.at(-1);
  const where = last ? ` at step ${last.step} (${last.mode} ${Math.round(last.share * 100)}%)` : '';
  const event =
    record.outcome === 'rolled-back'
      ? `${stamp(actor.at)} progressive rollout by ${actor.by}: rolled back${where} against champion v${record.champion}: ${record.reason ?? 'no reason given'}`
      : `${stamp(actor.at)} progressive rollout by ${actor.by}: ${record.steps.length} step(s) passed against champion v${record.champion}`;
  await refreshVersionDescription(mlflow, name, version, event.slice(0, 600));
}
