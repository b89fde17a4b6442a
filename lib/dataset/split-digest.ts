import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { SplitDigests } from '../lifecycle/types';

/**
 * The content digest of one split folder (e.g. `test/`): sha256 over the sorted
 * lines `<relative path>\t<sha256 of the file>\n`. It depends only on the files
 * (not on DVC's hashing or on which dataset version carries them), so two
 * versions that share a held-out split have the same test digest, and the
 * promotion gate can tell when two metrics were measured on the same images.
 * Dot-files are ignored; a missing folder has the digest of the empty list.
 */
export async function splitDigest(dir: string, concurrency = 64): Promise<string> {
  const files = (await listFiles(dir)).map((abs) => ({ abs, rel: relative(dir, abs).split(sep).join('/') }));
  files.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  const hashes = new Array<string>(files.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < files.length; i = next++) hashes[i] = await sha256File(files[i]!.abs);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
  const digest = createHash('sha256');
  files.forEach((f, i) => digest.update(`${f.rel}\t${hashes[i]}\n`));
  return digest.digest('hex');
}

/** The train and test split digests of a dataset directory in the project's format (train/<class>/, test/<class>/). */
export async function splitDigests(datasetDir: string): Promise<SplitDigests> {
  const [train, test] = await Promise.all([splitDigest(join(datasetDir, 'train')), splitDigest(join(datasetDir, 'test'))]);
  return { train, test };
}

async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const nested = await Promise.all(
    entries
      .filter((e) => !e.name.startsWith('.'))
      .map((e) => (e.isDirectory() ? listFiles(join(dir, e.name)) : e.isFile() ? Promise.resolve([join(dir, e.name)]) : Promise.resolve([]))),
  );
  return nested.flat();
}

/** Dataset files are small images: one read each is several times faster than a stream per file. */
async function sha256File(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}
