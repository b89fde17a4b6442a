import { Context, log } from '@temporalio/activity';
import type { MlflowClient } from '../lib/mlflow/client';
import { CommandError } from '../lib/process/run';
import type { DatasetDeps } from '../lib/dataset/checkout';
import type { DatasetRef, PromotionDecision, RegisteredVersion } from '../lib/lifecycle/types';
import { resolveDataset } from './dataset';
import { abandonExecution, type AbandonInput } from './cleanup';
import { checkpointFromHeartbeat } from './checkpoints';
import { evaluateVersion, type EvaluateInput } from './evaluation';
import { guard, keepAliveMsFor, withKeepAlive } from './failures';
import { championVersion, getChampion, getVersionInfo, recordDecision, registerModel, rollbackTarget, setChampion, type RegisterInput } from './registry';
import { recordRolloutEvidence, type RolloutEvidenceInput } from './rollout-evidence';
import { finishRun, startRun, type RunEnd, type StartRunInput } from './tracking';
import { TRAINER_USAGE_EXIT_CODE, trainModel, type TrainModelInput } from './training';
import { inspectDatasets, type InspectDatasetsInput } from './trigger';
import { measureDrift, type DriftDeps, type MeasureDriftInput } from './drift';
import { curateDataset, newLabels, type CurateInput } from './curation';

/** The serving side's rollout activities (activities/rollout.ts), registered on the pipeline queue beside ours. */
export type { RolloutActivities } from './rollout';
/** The live analysis of a progressive rollout (activities/analysis.ts), registered on the pipeline queue. */
export type { AnalysisActivities } from './analysis';
/** A drift check's result (activities/drift.ts), the monitorModel workflow's result. */
export type { DriftCheck } from './drift';
export type { CurationResult } from './curation';

export interface PipelineActivityDeps {
  mlflow: MlflowClient;
  datasets: Omit<DatasetDeps, 'onProgress'>;
  /** Commit of the code that runs the pipeline, recorded on each MLflow run. */
  gitCommit: string;
}

export interface TrainingActivityDeps {
  mlflow: MlflowClient;
  datasets: Omit<DatasetDeps, 'onProgress'>;
  python: string;
  trainerScript: string;
  /** trainer/log_mlflow_model.py: logs the ONNX file as an MLflow-native model. */
  logModelScript: string;
  workDir: string;
}

/** Activities of the `ml-pipeline` task queue: every I/O step of the lifecycle except training and evaluation. */
export function createPipelineActivities(deps: PipelineActivityDeps) {
  const { mlflow } = deps;
  return {
    resolveDataset: (ref: DatasetRef) => guard(() => withKeepAlive((beat) => resolveDataset(ref, { ...deps.datasets, onProgress: (message) => beat({ message }) }))),
    inspectDatasets: (input: InspectDatasetsInput) =>
      guard(() => withKeepAlive((beat) => inspectDatasets(mlflow, { ...deps.datasets, onProgress: (message) => beat({ message }) }, input))),
    startRun: (input: Omit<StartRunInput, 'gitCommit'>) => guard(() => startRun(mlflow, { ...input, gitCommit: deps.gitCommit })),
    finishRun: (input: { runId: string; status: RunEnd; reason?: string }) => guard(() => finishRun(mlflow, input)),
    abandonExecution: (input: AbandonInput) => guard(() => abandonExecution(mlflow, input)),
    registerModel: (input: RegisterInput) => guard(() => registerModel(mlflow, input)),
    getChampion: (modelName: string, metric: string) => guard(() => getChampion(mlflow, modelName, metric)),
    championVersion: (modelName: string) => guard(() => championVersion(mlflow, modelName)),
    getVersionInfo: (model: RegisteredVersion, metric: string) => guard(() => getVersionInfo(mlflow, model, metric)),
    rollbackTarget: (modelName: string) => guard(() => rollbackTarget(mlflow, modelName)),
    recordDecision: (model: RegisteredVersion, decision: PromotionDecision) => guard(() => recordDecision(mlflow, model, decision)),
    setChampion: (model: RegisteredVersion) => guard(() => setChampion(mlflow, model)),
    recordRolloutEvidence: (input: RolloutEvidenceInput) => guard(() => recordRolloutEvidence(mlflow, input)),
  };
}

/** Activities of the `ml-training` task queue, served by training workers (the only ones that hold dataset files). */
export function createTrainingActivities(deps: TrainingActivityDeps) {
  return {
    trainModel: (input: TrainModelInput) => {
      const ctx = Context.current();
      return guard(
        () =>
          trainModel(input, {
            ...deps,
            trackingUri: deps.mlflow.trackingUri,
            heartbeat: (details) => ctx.heartbeat(details),
            resumeFrom: checkpointFromHeartbeat(ctx.info.heartbeatDetails),
            attempt: ctx.info.attempt,
            keepAliveMs: keepAliveMsFor(ctx.info.heartbeatTimeoutMs),
            signal: ctx.cancellationSignal,
            log: (msg, fields) => {
              log.info(msg, fields);
            },
          }),
        (err) => (err instanceof CommandError && err.exitCode === TRAINER_USAGE_EXIT_CODE && err.command.includes(deps.trainerScript) ? 'TRAINER_BAD_INPUT' : null),
      );
    },
    evaluateVersion: (input: EvaluateInput) =>
      guard(() => withKeepAlive((beat) => evaluateVersion(input, { mlflow: deps.mlflow, datasets: deps.datasets, heartbeat: beat }))),
  };
}

/**
 * Activities of the `ml-monitoring` task queue, served by training workers beside
 * `ml-training` (they hold the Python environment), with their own concurrency so
 * a drift check never waits behind a training.
 */
export function createMonitoringActivities(deps: Omit<DriftDeps, 'signal'> & { datasets: Omit<DatasetDeps, 'onProgress'> }) {
  return {
    measureDrift: (input: MeasureDriftInput) => guard(() => withKeepAlive(() => measureDrift(input, { ...deps, signal: Context.current().cancellationSignal }))),
    /** How many labelled payloads of the model no curated version holds yet (the curation policy's condition). */
    countNewLabels: (modelName: string) => guard(async () => (await newLabels(deps.mlflow, deps.payloadDir, modelName)).length),
    curateDataset: (input: CurateInput) =>
      guard(() => withKeepAlive((beat) => curateDataset(input, { mlflow: deps.mlflow, datasets: deps.datasets, payloadDir: deps.payloadDir, onProgress: (message) => beat({ message }) }))),
  };
}

export type PipelineActivities = ReturnType<typeof createPipelineActivities>;
export type MonitoringActivities = ReturnType<typeof createMonitoringActivities>;
export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
