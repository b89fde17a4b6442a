import type { Logger } from 'pino';
import type { ModelRef } from '../../lib/fleet/protocol';
import { ModelMetadataError, readModelMetadata, type ModelMetadata } from '../../lib/model/metadata';
import { fetchVerifiedModel } from './model-cache';
import { ModelLoadError } from './model-errors';
import { runGoldenCheck } from './golden-check';
import { createOrtSession, ModelRunner, type CreateSession, type SessionOptions } from './model-runner';

/**
 * What the worker needs from the model registry (MLflow's client implements
 * it); tests hand in a fake that serves local files.
 */
export interface ModelRegistryClient {
  resolveModelRef(name: string, alias: string): Promise<ModelRef | null>;
  downloadArtifact(artifactUri: string): Promise<Buffer>;
  /** Names of the registered models that have `alias` (SERVED_MODELS=* serves every model with a champion). */
  modelsWithAlias(alias: string): Promise<string[]>;
}

export interface LoadedModel {
  ref: ModelRef;
  metadata: ModelMetadata;
  runner: ModelRunner;
}

export interface ModelLoaderOptions {
  registry: Pick<ModelRegistryClient, 'downloadArtifact'>;
  cacheDir: string;
  session: SessionOptions;
  /** Batch size of the second warm-up run, so the largest batch's buffers are allocated before traffic. */
  warmupBatchSize: number;
  createSession?: CreateSession;
  /**
   * Fault injection for drills (FAULT_GOLDEN_CHECK_FAIL): `model@version` entries whose golden
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
      throw new ModelLoadError('GOLDEN_CHECK_FAILED', `golden check of ${ref.name} v${ref.version} failed (injected by FAULT_GOLDEN_CHECK_FAIL)`);
    }
    // Warm-up: the first runs allocate onnxruntime's buffers; pay that before traffic does.
    for (const size of new Set([1, opts.warmupBatchSize])) {
      await runner.predict(Array.from({ length: size }, () => new Float32Array(runner.exampleSize)));
    }
    opts.logger.info({ model: ref.name, version: ref.version, goldenCount, ms: Date.now() - started }, 'model loaded and verified');
    return { ref, metadata, runner };
  } catch (err) {
    await runner.release().catch(() => undefined);
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError('MODEL_INVALID', `model does not run as its metadata says: ${(err as Error).message}`, { cause: err });
  }
}
