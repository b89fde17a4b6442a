import { existsSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { runCommand } from '../process/run';
import type { DatasetRef, ResolvedDataset, SplitDigests } from '../lifecycle/types';
import { checkoutRevision, type DatasetDeps } from './checkout';
import { DatasetError } from './errors';
import { splitDigests } from './split-digest';

export interface MaterializedDataset extends ResolvedDataset {
  /** Local directory holding the dataset files (read-only: shared by every activity on this machine). */
  dir: string;
  splits: SplitDigests;
}

const MARKER = '.lifecycle-complete';

/** Pulls of the same digest in this process share one promise. */
const inFlight = new Map<string, Promise<MaterializedDataset>>();

/**
 * The dataset's files in this worker's cache, `<cacheDir>/<digest>/`. A cache
 * hit needs no git or DVC at all when the digest is known (the pipeline
 * resolved it). A miss clones the pinned commit, `dvc pull`s into the clone,
 * computes the split digests, writes the completion marker and then renames
 * the folder into place: a rename is atomic, so a reader never sees a
 * half-pulled folder, and when two processes pull the same digest at once the
 * first rename wins and the second discards its copy (the old code deleted
 * the winner's folder under a running trainer).
 */
export async function materialize(ref: DatasetRef | ResolvedDataset, deps: DatasetDeps): Promise<MaterializedDataset> {
  if ('digest' in ref) {
    const hit = await readMarker(join(deps.cacheDir, ref.digest));
    if (hit) return { ...ref, dir: hit.dir, splits: hit.splits };
  }
  const checkout = await checkoutRevision(ref, deps);
  try {
    const { dataset } = checkout;
    if ('digest' in ref && ref.digest !== dataset.digest) {
      throw new DatasetError(`${dataset.path} at ${dataset.commit} has digest ${dataset.digest}, expected ${ref.digest}`, 'DATASET_DIGEST_MISMATCH');
    }
    const key = dataset.digest;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = pull(checkout.dataset, checkout.work, checkout.dvcRoot, deps).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    const pulled = await pending;
    return { ...dataset, dir: pulled.dir, splits: pulled.splits };
  } finally {
    await checkout.cleanup();
  }
}

async function pull(dataset: ResolvedDataset, work: string, dvcRoot: string, deps: DatasetDeps): Promise<MaterializedDataset> {
  const dir = join(deps.cacheDir, dataset.digest);
  const hit = await readMarker(dir);
  if (hit) return hit;
  deps.onProgress?.(`dvc pull ${dataset.path} (${dataset.nfiles} files)`);
  await runCommand(deps.dvcBin, ['pull', '--quiet', relative(dvcRoot, join(work, dataset.path))], { cwd: dvcRoot });
  const staged = join(work, dataset.path);
  deps.onProgress?.(`hashing the splits of ${dataset.name}`);
  const splits = await splitDigests(staged);
  const done: MaterializedDataset = { ...dataset, dir, splits };
  await writeFile(join(staged, MARKER), JSON.stringify(done));
  await moveIntoPlace(staged, dir);
  const placed = await readMarker(dir);
  if (!placed) throw new Error(`dataset folder ${dir} has no completion marker after the pull`);
  return placed;
}

async function moveIntoPlace(staged: string, dir: string): Promise<void> {
  try {
    await rename(staged, dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
  }
  if (await readMarker(dir)) return; // another puller won the race: its folder is complete, use it
  // A folder without a marker is a leftover of an interrupted older layout: set it aside, then retry.
  const aside = `${dir}.stale-${process.pid}-${Date.now()}`;
  await rename(dir, aside).catch(() => undefined);
  await rm(aside, { recursive: true, force: true });
  await rename(staged, dir).catch(async (err: NodeJS.ErrnoException) => {
    if ((err.code === 'ENOTEMPTY' || err.code === 'EEXIST') && (await readMarker(dir))) return;
    throw err;
  });
}

async function readMarker(dir: string): Promise<MaterializedDataset | null> {
  const file = join(dir, MARKER);
  if (!existsSync(file)) return null;
  try {
    const saved = JSON.parse(await readFile(file, 'utf8')) as MaterializedDataset;
    // Folders pulled before split digests existed: compute them once and keep them.
    if (!saved.splits) {
      saved.splits = await splitDigests(dir);
      await writeFile(file, JSON.stringify({ ...saved, dir }));
    }
    return { ...saved, dir };
  } catch {
    return null;
  }
}
