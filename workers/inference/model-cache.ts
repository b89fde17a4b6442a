import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelRef } from '../../lib/fleet/protocol';
import { sha256Hex } from '../../lib/model/sha256';
import { ModelLoadError } from './model-errors';

/**
 * ONNX bytes of `ref`, verified against its registered sha256. Files are
 * cached as `<cacheDir>/<sha256>.onnx` (content-addressed, so versions that
 * share a file share the entry and a rollback needs no download). A cached
 * file is re-hashed on every use: a corrupted cache entry is replaced, never served.
 */
export async function fetchVerifiedModel(ref: ModelRef, download: (artifactUri: string) => Promise<Buffer>, cacheDir: string): Promise<Buffer> {
  const expected = ref.sha256.toLowerCase();
  const path = join(cacheDir, `${expected}.onnx`);
  const cached = await readFile(path).catch(() => null);
  if (cached && sha256Hex(cached) === expected) return cached;

  let bytes: Buffer;
  try {
    bytes = await download(ref.artifactUri);
  } catch (err) {
    throw new ModelLoadError('MODEL_DOWNLOAD_FAILED', `downloading ${ref.artifactUri} failed: ${(err as Error).message}`, { cause: err });
  }
  const actual = sha256Hex(bytes);
  if (actual !== expected) {
    throw new ModelLoadError('MODEL_CHECKSUM_MISMATCH', `sha256 of ${ref.name} v${ref.version} is ${actual}, registry says ${expected}; refusing it`);
  }
  // Write-then-rename so a concurrent reader (another worker sharing the dir) never sees half a file.
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.${randomUUID()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch {
    await rm(tmp, { force: true }); // a read-only cache only costs a download next time
  }
  return bytes;
}
