/**
 * What a lifecycle workflow reports about itself through its `progress` query:
 * the CLI, `make up` and the Temporal UI read the same document. Long steps
 * (training epochs, rollout worker i of n) report finer progress through their
 * activity's heartbeat details, which `describe()` returns beside it.
 */
import type { DeploymentResult, PipelineStep, PromotionDecision, RegisteredVersion } from './types';

export const PROGRESS_QUERY = 'progress';
/** The older one-line status query (`temporal workflow query --type status`), kept for scripts. */
export const STATUS_QUERY = 'status';

export type StageName = 'dataset' | 'run' | 'training' | 'registration' | 'gate' | 'rollout' | 'alias';
export type StageState = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'compensated';

export interface Stage {
  name: StageName;
  state: StageState;
  detail?: string;
  /** Workflow time (ms since epoch) the stage started and ended. */
  startedAt?: number;
  endedAt?: number;
}

export interface WorkflowProgress {
  workflow: string;
  modelName: string;
  step: PipelineStep;
  detail?: string;
  stages: Stage[];
  dataset?: { name: string; path: string; commit: string; digest: string };
  runId?: string;
  model?: RegisteredVersion;
  metrics?: Record<string, number>;
  decision?: PromotionDecision;
  deployment?: DeploymentResult | null;
  error?: string;
}

export interface StatusLine {
  step: PipelineStep;
  detail?: string;
}

/** The training activity's heartbeat details (see activities/training.ts); every field optional for older writers. */
export interface TrainingBeat {
  phase?: 'dataset' | 'starting' | 'training' | 'uploading' | 'logging-model';
  message?: string;
  event?: string;
  epoch?: number;
  epochs?: number;
  step?: number;
  steps_per_epoch?: number;
  loss?: number;
  train_accuracy?: number;
  val_accuracy?: number;
  resumedFromEpoch?: number | null;
  checkpoint?: { epoch: number } | null;
}

/** The rollout activities' heartbeat details (activities/rollout.ts, written by the serving side): read loosely. */
export interface RolloutBeat {
  phase?: string;
  worker?: string;
  done?: number;
  of?: number;
  index?: number;
  total?: number;
  version?: string;
  [key: string]: unknown;
}
