import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { MlflowClient } from '../lib/mlflow/client';
import { sha256Hex } from '../lib/model/sha256';
import type { CheckpointRef, RunInfo } from '../lib/lifecycle/types';

const checkpointRefSchema = z.object({
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  artifactUri: z.string().min(1),
  localPath: z.string(),
});

/** The trainer's `checkpoint` event (trainer/README.md). */
export const checkpointEventSchema = z.object({
  event: z.literal('checkpoint'),
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  path: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * The checkpoint a previous attempt recorded in its last heartbeat, or null
 * (first attempt, or it died before finishing an epoch). Anything that does not
 * parse is ignored: a retry then trains from scratch, which is slower but right.
 */
export function checkpointFromHeartbeat(details: unknown): CheckpointRef | null {
  const parsed = z.object({ checkpoint: checkpointRefSchema }).safeParse(details);
  return parsed.success ? parsed.data.checkpoint : null;
}

/** Where a checkpoint of `run` lives in the run's artifacts. */
export function checkpointArtifactUri(run: RunInfo, epoch: number): string {
  return `${run.artifactUri}/checkpoints/epoch-${String(epoch).padStart(4, '0')}.pt`;
}

/** Uploads the trainer's checkpoint file to the run's artifacts (so a retry on another machine can fetch it). */
export async function uploadCheckpoint(mlflow: MlflowClient, run: RunInfo, event: z.infer<typeof checkpointEventSchema>): Promise<CheckpointRef> {
  const bytes = await readFile(event.path);
  const actual = sha256Hex(bytes);
  if (actual !== event.sha256) throw new Error(`checkpoint ${event.path} has sha256 ${actual}, the trainer reported ${event.sha256}`);
  const artifactUri = checkpointArtifactUri(run, event.epoch);
  await mlflow.uploadArtifact(artifactUri, bytes);
  return { epoch: event.epoch, epochs: event.epochs, sha256: event.sha256, artifactUri, localPath: event.path };
}

/**
 * A local file holding `ref`'s bytes: the previous attempt's own file when this
 * attempt runs on the same machine and it is intact, otherwise a download from
 * the run's artifacts. Either way the sha256 is checked before the trainer loads it.
 */
export async function fetchCheckpoint(mlflow: MlflowClient, ref: CheckpointRef, dir: string): Promise<string> {
  if (ref.localPath && existsSync(ref.localPath)) {
    if (sha256Hex(await readFile(ref.localPath)) === ref.sha256) return ref.localPath;
  }
  const bytes = await mlflow.downloadArtifact(ref.artifactUri);
  const actual = sha256Hex(bytes);
  if (actual !== ref.sha256) throw new Error(`checkpoint ${ref.artifactUri} has sha256 ${actual}, expected ${ref.sha256}`);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `resume-epoch-${ref.epoch}.pt`);
  await writeFile(file, bytes);
  return file;
}
