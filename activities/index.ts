import { ApplicationFailure, Context, log } from '@temporalio/activity';
import type { Redis } from 'ioredis';
import type { MlflowClient } from '../lib/mlflow/client';
import { MlflowError } from '../lib/mlflow/client';
import { CommandError } from '../lib/process/run';
import type { DatasetRef, DeploymentResult, RegisteredVersion, ResolvedDataset } from '../lib/lifecycle/types';
import { DatasetError, materializeDataset, type DatasetDeps } from './dataset';
import { finishRun, startRun, type StartRunInput } from './tracking';
import { TRAINER_USAGE_EXIT_CODE, trainModel, type TrainModelInput, type TrainingDeps } from './training';
import { getChampion, recordDecision, registerModel, setChampion, type RegisterInput } from './registry';
import { DeployError, deployModel } from './rollout';

export interface PipelineActivityDeps {
  mlflow: MlflowClient;
  redis: Redis;
  redisPrefix: string;
  datasets: Omit<DatasetDeps, 'onProgress'>;
  /** Commit of the code that runs the pipeline, recorded on each MLflow run. */
  gitCommit: string;
  /** How long a deploy waits for the fleet to report the new version. */
  deployTimeoutMs: number;
}

export interface TrainingActivityDeps {
  mlflow: MlflowClient;
  datasets: Omit<DatasetDeps, 'onProgress'>;
  python: string;
  trainerScript: string;
  workDir: string;
}

/** Activities of the `ml-pipeline` task queue: every I/O step of trainAndPromote except training itself. */
export function createPipelineActivities(deps: PipelineActivityDeps) {
  return {
    async pullDataset(ref: DatasetRef): Promise<ResolvedDataset> {
      const beat = keepAlive();
      try {
        const { dir: _dir, ...resolved } = await guard(() => materializeDataset(ref, { ...deps.datasets, onProgress: beat.update }));
        return resolved;
      } finally {
        beat.stop();
      }
    },
    startRun: (input: Omit<StartRunInput, 'gitCommit'>) => guard(() => startRun(deps.mlflow, { ...input, gitCommit: deps.gitCommit })),
    finishRun: (runId: string, status: 'FINISHED' | 'FAILED') => guard(() => finishRun(deps.mlflow, runId, status)),
    registerModel: (input: RegisterInput) => guard(() => registerModel(deps.mlflow, input)),
    getChampion: (modelName: string, metric: string) => guard(() => getChampion(deps.mlflow, modelName, metric)),
    recordDecision: (model: RegisteredVersion, decision: Parameters<typeof recordDecision>[2]) => guard(() => recordDecision(deps.mlflow, model, decision)),
    setChampion: (model: RegisteredVersion) => guard(() => setChampion(deps.mlflow, model)),
    deployModel: (model: RegisteredVersion, deploymentId: string): Promise<DeploymentResult> =>
      guard(() =>
        deployModel(
          { model, deploymentId, timeoutMs: deps.deployTimeoutMs },
          { mlflow: deps.mlflow, redis: deps.redis, prefix: deps.redisPrefix, heartbeat, signal: Context.current().cancellationSignal },
        ),
      ),
  };
}

/** Activities of the `ml-training` task queue, served by training workers that may run on other machines. */
export function createTrainingActivities(deps: TrainingActivityDeps) {
  return {
    trainModel: (input: TrainModelInput) =>
      guard(async () => {
        const ctx = Context.current();
        const beat = keepAlive();
        const training: TrainingDeps = {
          ...deps,
          heartbeat: beat.update,
          signal: ctx.cancellationSignal,
          log: (msg, fields) => {
            log.info(msg, fields);
          },
        };
        try {
          return await trainModel(input, training);
        } finally {
          beat.stop();
        }
      }),
  };
}

export type PipelineActivities = ReturnType<typeof createPipelineActivities>;
export type TrainingActivities = ReturnType<typeof createTrainingActivities>;

function heartbeat(message: unknown): void {
  Context.current().heartbeat(message);
}

/**
 * Heartbeats the latest progress now and then every few seconds, so a long
 * silent step (a big `dvc pull`, the trainer decoding images) never looks like a
 * dead worker, while a really dead worker still misses its heartbeat timeout.
 */
function keepAlive(intervalMs = 10_000): { update: (details: unknown) => void; stop: () => void } {
  const ctx = Context.current();
  let last: unknown = { phase: 'starting' };
  const timer = setInterval(() => ctx.heartbeat(last), intervalMs);
  return {
    update: (details) => {
      last = details;
      ctx.heartbeat(details);
    },
    stop: () => clearInterval(timer),
  };
}

/** Maps errors that retrying cannot fix to non-retryable failures; everything else is retried with backoff. */
async function guard<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DatasetError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    if (err instanceof MlflowError && !err.transient) throw ApplicationFailure.nonRetryable(err.message, err.errorCode ?? err.code);
    if (err instanceof CommandError && err.exitCode === TRAINER_USAGE_EXIT_CODE) throw ApplicationFailure.nonRetryable(err.message, 'TRAINER_BAD_INPUT');
    if (err instanceof DeployError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}
