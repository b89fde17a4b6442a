import type { Logger } from 'pino';
import type { ModelRef } from '../../lib/fleet/protocol';
import { ModelMetadataError, readModelMetadata, type ModelMetadata } from '../../lib/model/metadata';
import { fetchVerifiedModel } from './model-cache';
import { ModelLoadError } from './model-errors';
import { runGoldenCheck } from './golden-check';
import { createOrtSession, ModelRunner, type CreateSession, type SessionOptions } from '../../lib/model/model-runner';
import { createThreadSession } from '../../lib/model/session-thread';

/**
 * What the worker needs from the model registry (MLflow's client implements
 * it); tests hand in a fake that serves local files.
 */
export interface ModelRegistryClient {
  resolveModelRef(name: string, alias: string): Promise<ModelRef | null>;
  downloadArtifact(artifactUri: string): Promise<Buffer>;
  /** Names of the registered models that have `alias` (SERVED_MODELS=* serves every model with a champion). */
  modelsWithAlias(alias: string): Promise<string[]>;
  /** One registered-model tag (the traffic plan, TRAFFIC_PLAN_TAG), or null. */
  registeredModelTag(name: string, key: string): Promise<string | null>;
  /** A version by number (the traffic plan's candidate), or null when it is not registered. */
  resolveVersionRef(name: string, version: string): Promise<ModelRef | null>;
}

export interface LoadedModel {
  ref: ModelRef;
  metadata: ModelMetadata;
  runner: ModelRunner;
  /** Where its batches run (see ModelLoaderOptions.placement). */
  runsOn?: 'thread' | 'event loop';
}

export interface ModelLoaderOptions {
  registry: Pick<ModelRegistryClient, 'downloadArtifact'>;
  cacheDir: string;
  session: SessionOptions;
  /** Batch size of the second warm-up run, so the largest batch's buffers are allocated before traffic. */
  warmupBatchSize: number;
  createSession?: CreateSession;
  /**
   * Where batches run (INFERENCE_THREAD): `thread` on a thread of the session's own, `inline` on the event
   * loop, `auto` on a thread when a warm-up run of the largest batch takes longer than `threadAboveMs`
   * (then the event loop would be blocked long enough to delay reads, replies and heartbeats; below it, the
   * hop to a thread and back costs more than it frees).
   */
  placement?: 'auto' | 'thread' | 'inline';
  threadAboveMs?: number;
  /** Sessions on a thread of their own (session-thread.ts); replaceable in tests. */
  createThreadSession?: CreateSession;
  /**
   * Fault injection for drills (drills/faulty-inference-worker.ts): `model@version` entries whose golden
   * check this worker reports as failed, so a rollout failing on one chosen worker can be
   * rehearsed on the real fleet. Empty in normal operation.
   */
  failGoldenCheck?: ReadonlySet<string>;
  logger: Logger;
}

/**
 * Brings a model version into a runnable state beside whatever is being
 * served: download (or cache hit) with sha256 verification, session, metadata,
 * golden check, warm-up. Any failure releases what was built and throws
 * ModelLoadError; nothing is swapped here.
 */
export async function loadModel(ref: ModelRef, opts: ModelLoaderOptions): Promise<LoadedModel> {
  const started = Date.now();
  const bytes = await fetchVerifiedModel(ref, (uri) => opts.registry.downloadArtifact(uri), opts.cacheDir);

  let metadata: ModelMetadata;
  try {
    metadata = readModelMetadata(bytes);
  } catch (err) {
    if (err instanceof ModelMetadataError) throw new ModelLoadError('MODEL_INVALID', `${err.code}: ${err.message}`, { cause: err });
    throw err;
  }

  let runner: ModelRunner;
  try {
    const session = await (opts.createSession ?? createOrtSession)(bytes, opts.session);
    try {
      runner = new ModelRunner(session, metadata);
    } catch (err) {
      await session.release();
      throw err;
    }
  } catch (err) {
    throw new ModelLoadError('MODEL_INVALID', `cannot create a session: ${(err as Error).message}`, { cause: err });
  }

  try {
    const goldenCount = await runGoldenCheck(runner, metadata);
    if (opts.failGoldenCheck?.has(`${ref.name}@${ref.version}`)) {
      throw new ModelLoadError('GOLDEN_CHECK_FAILED', `golden check of ${ref.name} v${ref.version} failed (a drill's injected fault)`);
    }
    // Warm-up: the first runs allocate onnxruntime's buffers; pay that before traffic does.
    const largestRunMs = await warmUp(runner, opts.warmupBatchSize);
    const placement = opts.placement ?? 'inline';
    const onThread = placement === 'thread' || (placement === 'auto' && largestRunMs > (opts.threadAboveMs ?? 5));
    if (onThread) {
      const inline = runner;
      runner = new ModelRunner(await (opts.createThreadSession ?? createThreadSession)(bytes, opts.session), metadata);
      await inline.release();
      await warmUp(runner, opts.warmupBatchSize);
    }
    const runsOn = onThread ? 'thread' : 'event loop';
    opts.logger.info({ model: ref.name, version: ref.version, goldenCount, ms: Date.now() - started, largestBatchRunMs: Number(largestRunMs.toFixed(2)), runsOn }, 'model loaded and verified');
    return { ref, metadata, runner, runsOn };
  } catch (err) {
    await runner.release().catch(() => undefined);
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError('MODEL_INVALID', `model does not run as its metadata says: ${(err as Error).message}`, { cause: err });
  }
}

/** Timed runs of the largest batch after the allocating ones: the placement goes by the fastest. */
const PLACEMENT_RUNS = 3;

/**
 * Runs a batch of 1 and one of the largest size (allocating onnxruntime's buffers), then times the
 * largest size PLACEMENT_RUNS more times and returns the fastest. One run measures the machine as much
 * as the model: a candidate loads under live traffic, and a copy of the champion timed once that way
 * went to a thread while the champion ran inline, so the live analysis compared placements, not models.
 */
async function warmUp(runner: ModelRunner, largest: number): Promise<number> {
  const run = async (size: number) => {
    const started = performance.now();
    await runner.predict(Array.from({ length: size }, () => new Float32Array(runner.exampleSize)));
    return performance.now() - started;
  };
  for (const size of new Set([1, largest])) await run(size);
  let fastest = Infinity;
  for (let i = 0; i < PLACEMENT_RUNS; i++) fastest = Math.min(fastest, await run(largest));
  return fastest;
}
