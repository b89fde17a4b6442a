/**
 * What a lifecycle workflow reports about itself through its `progress` query:
 * the CLI, `make up` and the Temporal UI read the same document. Long steps
 * (training epochs, rollout worker i of n) report finer progress through their
 * activity's heartbeat details, which `describe()` returns beside it.
 */
import type { StepEvaluation } from '../analysis/evidence';
import type { StepRecord } from '../analysis/rollout-record';
import type { RolloutStep, RolloutStrategy } from './rollout-config';
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
  /** The progressive rollout, once the promotion holds the lease and knows its strategy. */
  rollout?: RolloutProgress;
  error?: string;
}

/** A progressive rollout as the progress query shows it: the step, its traffic, time in it, the latest evidence. */
export interface RolloutProgress {
  strategy: RolloutStrategy;
  state: 'starting' | 'running' | 'paused' | 'waiting-for-approval' | 'passed' | 'rolled-back';
  championVersion: string;
  steps: RolloutStep[];
  /** 0-based index of the current (or last) step. */
  stepIndex: number;
  /** Workflow time (ms) the step's traffic was applied, and the paused time inside the step that does not count. */
  stepStartedAt?: number;
  pausedMs: number;
  /** Time the step has counted at the latest analysis. */
  timeInStepMs: number;
  latest?: StepEvaluation;
  /** Each finished step's deciding analysis. */
  history: StepRecord[];
  /** The last operator action (approve, abort, pause, resume) with who and why. */
  lastAction?: { action: string; by?: string; reason?: string; at: number };
  reason?: string;
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
