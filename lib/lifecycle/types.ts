/**
 * Types shared by the trainAndPromote workflow and its activities. Pure data
 * (no I/O), so the deterministic workflow bundle may import it.
 */

/** Which dataset version to use: a DVC-tracked path at a git revision of a DVC repo. */
export interface DatasetRef {
  /** Git repository (local path or URL) holding the DVC project; default: the worker's DATASET_REPO. */
  repo?: string;
  /** Path of the DVC-tracked directory, relative to the repository root. */
  path?: string;
  /** Git revision (tag, branch, commit); default HEAD. */
  rev?: string;
}

/** A dataset version resolved to exact coordinates and a content digest. */
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

/** Trainer hyper-parameters; passed to the trainer as JSON. Unknown keys are passed through. */
export type TrainingParams = Record<string, string | number | boolean>;

export interface TrainAndPromoteInput {
  dataset?: DatasetRef;
  params?: TrainingParams;
  /** Registered model name; default fashion-mnist-classifier. */
  modelName?: string;
  /** MLflow experiment; default = model name. */
  experimentName?: string;
  /** Metric that decides promotion (higher is better); default test_accuracy. */
  promotionMetric?: string;
  /** The challenger must beat the champion by more than this; default 0. */
  minImprovement?: number;
  /** Deploy to the inference fleet after promotion; default true. */
  deploy?: boolean;
  /** Task queue of the training workers; default ml-training. */
  trainingTaskQueue?: string;
}

export interface RunInfo {
  runId: string;
  experimentId: string;
  artifactUri: string;
}

export interface TrainedModel {
  sha256: string;
  onnxUri: string;
  metrics: Record<string, number>;
  trainerVersion: string;
  durationSeconds: number;
}

export interface RegisteredVersion {
  name: string;
  version: string;
}

export interface ChampionInfo {
  version: string;
  /** The champion's value of the promotion metric, if recorded. */
  metric: number | null;
}

export interface PromotionDecision {
  promote: boolean;
  metric: string;
  candidate: number;
  champion: number | null;
  championVersion: string | null;
  reason: string;
}

export interface DeploymentResult {
  deploymentId: string;
  workers: string[];
}

export interface TrainAndPromoteResult {
  dataset: ResolvedDataset;
  runId: string;
  model: RegisteredVersion;
  metrics: Record<string, number>;
  decision: PromotionDecision;
  deployment: DeploymentResult | null;
}

export type PipelineStep =
  | 'pulling-dataset'
  | 'starting-run'
  | 'training'
  | 'registering'
  | 'evaluating'
  | 'deploying'
  | 'promoting'
  | 'done'
  | 'failed';
