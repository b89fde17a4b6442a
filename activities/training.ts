import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MlflowClient } from '../lib/mlflow/client';
import { sha256Hex } from '../lib/model/sha256';
import { materialize, type MaterializedDataset } from '../lib/dataset/materialize';
import type { DatasetDeps } from '../lib/dataset/checkout';
import type { CheckpointRef, DatasetRef, ResolvedDataset, RunInfo, TrainedModel, TrainingParams } from '../lib/lifecycle/types';
import type { TrainingBeat } from '../lib/lifecycle/progress';
import { checkpointEventSchema, fetchCheckpoint, uploadCheckpoint } from './checkpoints';
import { keepBeating } from './failures';
import { epochMetrics, logResolvedParams, logTrainingLineage, readTrainerResults, uploadTrainingArtifacts } from './lineage';
import { logMlflowModel } from './mlflow-model';
import { runTrainer } from './trainer-process';
import type { TrainerEvent } from './trainer-progress';

export interface TrainingDeps {
  python: string;
  trainerScript: string;
  /** trainer/log_mlflow_model.py */
  logModelScript: string;
  workDir: string;
  mlflow: MlflowClient;
  trackingUri: string;
  datasets: DatasetDeps;
  /** Temporal heartbeat (or a test's recorder). */
  heartbeat: (details: TrainingBeat & { checkpoint: CheckpointRef | null }) => void;
  /** The checkpoint the previous attempt recorded in its heartbeat, if any. */
  resumeFrom: CheckpointRef | null;
  attempt: number;
  /**
   * How often silent steps (dataset pull, the trainer between its events) heartbeat; a fraction of
   * the heartbeat timeout, so a busy machine never lets a live attempt look dead. Default 5 s.
   */
  keepAliveMs?: number;
  signal?: AbortSignal;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface TrainModelInput {
  /** The dataset pinned to its commit; with its digest the cache is hit without git or DVC. */
  dataset: DatasetRef | ResolvedDataset;
  params: TrainingParams;
  run: RunInfo;
}

/** Exit code the trainer uses for bad input (argparse's usage error): retrying cannot help. */
export const TRAINER_USAGE_EXIT_CODE = 2;

/**
 * One training attempt: materialises the dataset on this machine (the only
 * place it is pulled), runs the trainer (resuming from the previous attempt's
 * checkpoint when there is one), and records everything in the execution's
 * MLflow run: resolved params, per-epoch metrics, checkpoints, final and
 * per-class metrics, lineage tags, evaluation files and the MLflow-native model.
 * Every heartbeat carries the newest uploaded checkpoint, which is how a retry
 * on any machine knows where to resume.
 */
export async function trainModel(input: TrainModelInput, deps: TrainingDeps): Promise<TrainedModel> {
  const started = Date.now();
  let checkpoint = deps.resumeFrom;
  let last: TrainingBeat = { phase: 'dataset' };
  const beat = (details?: TrainingBeat) => {
    if (details) last = details;
    deps.heartbeat({ ...last, resumedFromEpoch: deps.resumeFrom?.epoch ?? null, checkpoint });
  };
  beat({ phase: 'dataset', message: 'resolving the dataset cache' });
  // git, `dvc pull` and downloads are silent for long stretches: keep beating while they run (and only then).
  const keepAliveMs = deps.keepAliveMs ?? 5000;
  const whileSilent = <T>(step: () => Promise<T>) => keepBeating(() => beat(), keepAliveMs, step);
  const pullStarted = Date.now();
  const dataset = await whileSilent(() => materialize(input.dataset, { ...deps.datasets, onProgress: (message) => beat({ phase: 'dataset', message }) }));
  const datasetSeconds = (Date.now() - pullStarted) / 1000;

  await mkdir(deps.workDir, { recursive: true });
  const out = await mkdtemp(join(deps.workDir, `${input.run.runId}-attempt${deps.attempt}-`));
  try {
    const from = deps.resumeFrom;
    const resume = from ? await whileSilent(() => fetchCheckpoint(deps.mlflow, from, join(out, 'resume'))) : undefined;
    if (deps.resumeFrom) deps.log?.('resuming training', { epoch: deps.resumeFrom.epoch, from: resume });
    const paramsFile = join(out, 'params.json');
    await writeFile(paramsFile, JSON.stringify(input.params));
    beat({ phase: 'starting', message: resume ? `resuming after epoch ${deps.resumeFrom?.epoch}` : 'starting the trainer' });

    // MLflow calls triggered by progress lines run one after another, in order, off the stdout callback.
    // The first failure is kept (never left as an unhandled rejection) and fails the attempt once the trainer exits.
    let chain: Promise<void> = Promise.resolve();
    let failure: unknown;
    const then = (step: () => Promise<void>) => {
      chain = chain.then(() => (failure === undefined ? step() : undefined)).catch((err: unknown) => void (failure ??= err));
    };
    let lastEpoch: Pick<TrainingBeat, 'train_accuracy' | 'val_accuracy'> = {};
    const onEvent = (event: TrainerEvent) => {
      if (event.event === 'start' && event.params && typeof event.params === 'object') {
        const params = event.params as Record<string, unknown>;
        then(() => logResolvedParams(deps.mlflow, input.run.runId, params));
      } else if (event.event === 'epoch') {
        deps.log?.('epoch finished', { ...event });
        then(() => deps.mlflow.logBatch(input.run.runId, { metrics: epochMetrics(event) }));
      } else if (event.event === 'checkpoint') {
        const parsed = checkpointEventSchema.safeParse(event);
        // Recorded in the heartbeat only once uploaded, so the ref always points at a fetchable file.
        if (parsed.success) then(async () => void (checkpoint = await uploadCheckpoint(deps.mlflow, input.run, parsed.data)));
      }
      if (event.event === 'epoch') lastEpoch = { train_accuracy: event.train_accuracy as number, val_accuracy: event.val_accuracy as number };
      // Progress lines carry only the loss: show the last finished epoch's accuracy beside it.
      if (event.event !== 'checkpoint' && event.event !== 'done') beat({ phase: 'training', ...lastEpoch, ...pickBeat(event) });
    };
    const modelDir = join(out, 'model');
    const trainerStarted = Date.now();
    await runTrainer(
      { python: deps.python, script: deps.trainerScript, dataDir: dataset.dir, paramsFile, outDir: modelDir, resume },
      { onEvent, onKeepAlive: () => beat(), keepAliveMs, signal: deps.signal },
    );
    const trainerSeconds = (Date.now() - trainerStarted) / 1000;
    await chain;
    if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
    return await finish(modelDir, input, deps, dataset, { started, beat, timings: { dataset_materialize_seconds: datasetSeconds, trainer_process_seconds: trainerSeconds } });
  } finally {
    // This attempt's folder, and those of earlier attempts of the same run on this machine (a worker killed
    // mid-training leaves its folder behind; its checkpoint is in the run's artifacts). Never a later
    // attempt's: an attempt that timed out can still be finishing here while its retry already trains.
    const attemptOf = (name: string) => Number(/-attempt(\d+)-/.exec(name)?.[1] ?? NaN);
    const stale = (await readdir(deps.workDir)).filter((name) => name.startsWith(`${input.run.runId}-attempt`) && attemptOf(name) <= deps.attempt);
    await Promise.all(stale.map((name) => rm(join(deps.workDir, name), { recursive: true, force: true })));
  }
}

async function finish(
  modelDir: string,
  input: TrainModelInput,
  deps: TrainingDeps,
  dataset: MaterializedDataset,
  ctx: { started: number; beat: (d?: TrainingBeat) => void; timings: Record<string, number> },
): Promise<TrainedModel> {
  const onnxPath = join(modelDir, 'model.onnx');
  const trainedSha256 = sha256Hex(await readFile(onnxPath));
  const results = await readTrainerResults(modelDir);
  const durationSeconds = (Date.now() - ctx.started) / 1000;
  ctx.beat({ phase: 'uploading', message: 'evaluation files and lineage' });
  await uploadTrainingArtifacts(deps.mlflow, input.run, modelDir);
  const resumedFromEpoch = deps.resumeFrom?.epoch ?? null;
  // Also from run_info.json, for trainers whose start event carries no params (idempotent: same values).
  const resolvedParams = (results.runInfo.params as Record<string, unknown> | undefined) ?? {};
  await logResolvedParams(deps.mlflow, input.run.runId, resolvedParams);
  await logTrainingLineage(deps.mlflow, input.run, results, dataset, { durationSeconds, resumedFromEpoch, attempt: deps.attempt, timings: ctx.timings });
  ctx.beat({ phase: 'logging-model', message: 'logging the MLflow model' });
  const logged = await logMlflowModel(input.run.runId, onnxPath, {
    python: deps.python,
    script: deps.logModelScript,
    trackingUri: deps.trackingUri,
    signal: deps.signal,
    onKeepAlive: () => ctx.beat(),
    keepAliveMs: deps.keepAliveMs,
  });
  // MLflow re-serialises the ONNX proto when it logs the model, so the file serving downloads (and verifies)
  // is the logged one: its hash, measured by the logger after downloading it back, is the version's sha256.
  await deps.mlflow.logBatch(input.run.runId, {
    tags: {
      'lifecycle.sha256': logged.onnx_sha256,
      'lifecycle.trained_sha256': trainedSha256,
      'lifecycle.onnx_uri': logged.onnx_artifact_uri,
      'lifecycle.model_uri': logged.model_uri,
      'lifecycle.model_id': logged.model_id,
    },
  });
  return {
    sha256: logged.onnx_sha256,
    onnxUri: logged.onnx_artifact_uri,
    modelUri: logged.model_uri,
    modelId: logged.model_id,
    metrics: results.metrics,
    resolvedParams,
    splits: dataset.splits,
    trainerVersion: results.trainerVersion,
    durationSeconds,
    resumedFromEpoch,
  };
}

/** The fields of a trainer event worth showing live (the heartbeat is size-limited and read by the CLI). */
function pickBeat(event: TrainerEvent): TrainingBeat {
  const keep = ['event', 'epoch', 'epochs', 'step', 'steps_per_epoch', 'loss', 'train_accuracy', 'val_accuracy'] as const;
  const beat: Record<string, unknown> = {};
  for (const k of keep) if (event[k] !== undefined) beat[k] = event[k];
  if (event.event === 'resume' && typeof event.from_epoch === 'number') beat.epoch = event.from_epoch;
  return beat;
}
