/**
 * Types shared by the lifecycle workflows and their activities. Pure data
 * (no I/O), so the deterministic workflow bundle may import it. Input types
 * that are validated are derived from their zod schemas in ./input.ts.
 */
import type { DatasetRef } from './input';
import type { TrafficMode } from '../fleet/protocol';
import type { RolloutRecord } from '../analysis/rollout-record';

export type { DatasetRef, TrainingParams, TrainAndPromoteInput, PromoteVersionInput, CheckDatasetsInput, SagaTimeouts } from './input';

/** Content digests of a dataset's splits: sha256 over the sorted (relative path, sha256 of file) of each split folder. */
export interface SplitDigests {
  train: string;
  test: string;
}

/** A dataset version resolved to exact coordinates and a content digest, without its files. */
export interface ResolvedDataset {
  repo: string;
  path: string;
  rev: string;
  /** The commit `rev` resolved to, so a retry or a rerun pulls exactly the same data. */
  commit: string;
  /** DVC's md5 of the directory (the `.dir` hash in the pointer file). */
  digest: string;
  nfiles: number;
  sizeBytes: number;
  /** Human-readable source for MLflow's dataset input. */
  source: string;
  name: string;
}

/** The same dataset pinned to its commit: what the training queue materialises. */
export function pinned(dataset: ResolvedDataset): Required<DatasetRef> {
  return { repo: dataset.repo, path: dataset.path, rev: dataset.commit };
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  artifactUri: string;
}

/** The newest checkpoint of a training run, as recorded in the training activity's heartbeat. */
export interface CheckpointRef {
  epoch: number;
  epochs: number;
  sha256: string;
  /** Where a retry on any machine can fetch it (the run's artifacts). */
  artifactUri: string;
  /** The trainer's local file, reused when the retry lands on the same machine. */
  localPath: string;
}

export interface TrainedModel {
  /** sha256 of the ONNX file the inference workers download. */
  sha256: string;
  /** `mlflow-artifacts:/...` URI of that ONNX file inside the logged MLflow model. */
  onnxUri: string;
  /** `models:/m-...` URI of the MLflow-native logged model (the registered version's source). */
  modelUri: string;
  modelId: string;
  metrics: Record<string, number>;
  /** The params the trainer actually used (defaults and seed included). */
  resolvedParams: Record<string, unknown>;
  splits: SplitDigests;
  trainerVersion: string;
  durationSeconds: number;
  /** The epoch a retried attempt resumed after, if any. */
  resumedFromEpoch: number | null;
}

export interface RegisteredVersion {
  name: string;
  version: string;
}

/** What the gate knows about the current champion of a registered model. */
export interface ChampionInfo {
  version: string;
  /** The champion's recorded value of the promotion metric, if any. */
  metric: number | null;
  /** Digest of the test split the recorded metric was measured on (null for versions from before it was recorded). */
  splitDigest: string | null;
  /** Values measured later by the evaluation activity, keyed by test split digest. */
  evaluations: Record<string, number>;
}

/** The champion's metric on the candidate's split: recorded at training, or measured by the evaluation activity. */
export interface ChampionMeasurement {
  version: string;
  metric: number | null;
  splitDigest: string;
  source: 'recorded' | 'evaluated';
}

export interface PromotionDecision {
  promote: boolean;
  metric: string;
  candidate: number;
  champion: number | null;
  championVersion: string | null;
  /** The test split digest both numbers come from. */
  splitDigest: string | null;
  championSource: 'recorded' | 'evaluated' | 'none';
  /** Set when an operator forced a promotion the gate rejected. */
  forced?: boolean;
  /** Set when the promotion is `lifecycle rollback` (which always proceeds). */
  rollback?: boolean;
  /** The operator's `--reason`, kept with the evidence and in the champion history. */
  note?: string;
  reason: string;
}

/**
 * One step of a progressive rollout put on the fleet (activities/rollout.ts
 * `setTraffic`): writes the plan to the registry (TRAFFIC_PLAN_TAG), asks the
 * fleet controller to sync, and returns once every live worker serving the
 * model has the candidate loaded beside the champion and the fleet's
 * `traffic` entry carries the plan. A candidate that cannot load fails
 * non-retryably with the worker's load error code.
 */
export interface TrafficInput {
  model: RegisteredVersion;
  deploymentId: string;
  mode: TrafficMode;
  share: number;
  /** canary: share of candidate-answered requests the champion also runs (default: the plan schema's). */
  mirrorShare?: number;
  /** The step's maximum duration: exported with the plan so an alert fires when a step is held past it; the lease is held that long. */
  maxDurationMs?: number;
  /** The champion the candidate is judged against: a lease lost with Redis is taken again only while it still is. */
  championVersion?: string;
}

export interface TrafficApplied {
  deploymentId: string;
  /** Workers that have the candidate loaded. */
  workers: string[];
  /** Epoch ms at which the plan reached the fleet: the analysis counts from here. */
  appliedAt: number;
}

/** Takes the candidate's traffic away (plan tag removed, fleet synced, candidate unloaded where it is not champion). */
export interface ClearTrafficInput {
  modelName: string;
  deploymentId: string;
}

/** The traffic activities of a progressive rollout (implemented in activities/rollout.ts, pipeline task queue). */
export interface TrafficActivities {
  setTraffic(input: TrafficInput): Promise<TrafficApplied>;
  clearTraffic(input: ClearTrafficInput): Promise<void>;
}

export interface DeploymentResult {
  deploymentId: string;
  workers: string[];
}

export interface PromotionOutcome {
  /** 'promoted': alias moved; 'rejected': the re-check against a new champion said no; 'rolled-back': the live analysis (or an operator's abort) stopped a progressive rollout. */
  status: 'promoted' | 'rejected' | 'rolled-back';
  decision: PromotionDecision;
  deployment: DeploymentResult | null;
  previousChampion: string | null;
  /** The progressive rollout's evidence (absent when the promotion went all at once). */
  rollout?: RolloutRecord;
}

export interface TrainAndPromoteResult {
  dataset: ResolvedDataset;
  runId: string;
  model: RegisteredVersion;
  metrics: Record<string, number>;
  decision: PromotionDecision;
  deployment: DeploymentResult | null;
  promoted: boolean;
  /** True when a progressive rollout was rolled back (the alias never moved); see `rollout` for why. */
  rolledBack?: boolean;
  rollout?: RolloutRecord;
}

export interface PromoteVersionResult {
  model: RegisteredVersion;
  decision: PromotionDecision;
  promoted: boolean;
  deployment: DeploymentResult | null;
  previousChampion: string | null;
  rolledBack?: boolean;
  rollout?: RolloutRecord;
}

/** One tracked dataset's state as the data trigger saw it. */
export interface DatasetCheck {
  dataset: ResolvedDataset;
  /** A registered version of the model was already trained on this digest. */
  alreadyTrained: boolean;
  /** The DVC remote holds every object (a commit pushed before `dvc push` is not started yet). */
  complete: boolean;
}

export interface CheckDatasetsResult {
  started: { workflowId: string; digest: string; path: string }[];
  skipped: { digest: string; path: string; reason: string }[];
}

export type PipelineStep =
  | 'resolving-dataset'
  | 'starting-run'
  | 'training'
  | 'registering'
  | 'gating'
  | 'waiting-for-rollout-lease'
  | 'shadow'
  | 'canary'
  | 'paused'
  | 'waiting-for-approval'
  | 'rolling-back'
  | 'deploying'
  | 'promoting'
  | 'compensating'
  | 'done'
  | 'failed'
  | 'cancelled';
