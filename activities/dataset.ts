import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isAbsolute, join, dirname, resolve, relative } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCommand } from '../lib/process/run';
import type { DatasetRef, ResolvedDataset } from '../lib/lifecycle/types';

export interface DatasetDeps {
  dvcBin: string;
  gitBin?: string;
  /** Default repository when a DatasetRef names none. */
  defaultRepo: string;
  defaultPath: string;
  /** Where materialised dataset versions live, one folder per DVC digest. */
  cacheDir: string;
  /** Overrides the DVC default remote's URL (e.g. an S3 bucket in compose). */
  remoteUrl?: string;
  /** Called while long commands run, so activities can heartbeat. */
  onProgress?: (message: string) => void;
}

export interface MaterializedDataset extends ResolvedDataset {
  /** Local directory holding the dataset files. */
  dir: string;
}

interface DvcPointer {
  outs: { md5: string; nfiles?: number; size?: number; path: string }[];
}

/** Thrown for a dataset reference that can never succeed (bad rev, not DVC-tracked): not worth retrying. */
export class DatasetError extends Error {
  readonly code = 'DATASET_INVALID';
}

/**
 * Materialises a DVC-tracked dataset version: clones the repository at the
 * requested revision (so concurrent pulls of different revisions never share a
 * work tree), reads the DVC pointer for its digest, and `dvc pull`s the data
 * into a cache folder named by that digest. A second call for the same
 * version is a cache hit, which makes retries cheap and idempotent.
 */
export async function materializeDataset(ref: DatasetRef, deps: DatasetDeps): Promise<MaterializedDataset> {
  const git = deps.gitBin ?? 'git';
  const repo = ref.repo ?? deps.defaultRepo;
  const path = normalizePath(ref.path ?? deps.defaultPath);
  const rev = ref.rev ?? 'HEAD';
  await mkdir(deps.cacheDir, { recursive: true });
  const work = await mkdtemp(join(deps.cacheDir, 'clone-'));
  try {
    deps.onProgress?.(`cloning ${repo}@${rev}`);
    await runCommand(git, ['clone', '--quiet', '--no-checkout', repo, work]);
    try {
      await runCommand(git, ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', rev], { cwd: work });
    } catch (err) {
      throw new DatasetError(`Revision ${rev} not found in ${repo}: ${(err as Error).message}`);
    }
    const commit = (await runCommand(git, ['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();
    const pointerFile = join(work, `${path}.dvc`);
    if (!existsSync(pointerFile)) throw new DatasetError(`${path} is not DVC-tracked at ${rev} (no ${path}.dvc in ${repo})`);
    const out = parsePointer(await readFile(pointerFile, 'utf8'), pointerFile);
    const digest = out.md5.replace(/\.dir$/, '');
    const resolved: ResolvedDataset = {
      repo,
      path,
      rev,
      commit,
      digest,
      nfiles: out.nfiles ?? 0,
      sizeBytes: out.size ?? 0,
      source: `${repo}@${commit.slice(0, 12)}:${path}`,
      name: path.split('/').pop() ?? path,
    };
    const dir = join(deps.cacheDir, digest);
    if (existsSync(join(dir, '.lifecycle-complete'))) return { ...resolved, dir };

    const dvcRoot = findDvcRoot(work, dirname(pointerFile));
    await configureRemote(deps, dvcRoot, repo, work);
    deps.onProgress?.(`dvc pull ${path} (${resolved.nfiles} files)`);
    await runCommand(deps.dvcBin, ['pull', '--quiet', relative(dvcRoot, join(work, path))], { cwd: dvcRoot });
    await rm(dir, { recursive: true, force: true });
    await rename(join(work, path), dir);
    await writeFile(join(dir, '.lifecycle-complete'), JSON.stringify(resolved));
    return { ...resolved, dir };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

function normalizePath(p: string): string {
  if (isAbsolute(p) || p.split('/').includes('..')) throw new DatasetError(`Dataset path must be relative to the repository root: ${p}`);
  return p.replace(/\/+$/, '');
}

function parsePointer(text: string, file: string): DvcPointer['outs'][number] {
  const doc = parseYaml(text) as Partial<DvcPointer> | null;
  const out = doc?.outs?.[0];
  if (!out?.md5) throw new DatasetError(`${file} is not a DVC pointer with an md5`);
  return out;
}

/** The nearest folder at or above `from` (inside the clone) holding a `.dvc/` directory (supports `dvc init --subdir`). */
function findDvcRoot(cloneRoot: string, from: string): string {
  for (let dir = from; dir.startsWith(cloneRoot); dir = dirname(dir)) {
    if (existsSync(join(dir, '.dvc', 'config'))) return dir;
    if (dir === cloneRoot) break;
  }
  throw new DatasetError(`No DVC project (.dvc/config) above ${relative(cloneRoot, from)}`);
}

/**
 * A fresh clone cannot reach a local remote given by a relative path (it is
 * relative to the original checkout). Point the clone's default remote at
 * REMOTE_URL when set, or else re-anchor a relative local URL on the source repo.
 */
async function configureRemote(deps: DatasetDeps, dvcRoot: string, repo: string, cloneRoot: string): Promise<void> {
  const remoteName = (await runCommand(deps.dvcBin, ['remote', 'default'], { cwd: dvcRoot }).catch(() => ({ stdout: '' }))).stdout.trim();
  if (!remoteName) throw new DatasetError(`The DVC project at ${repo} has no default remote`);
  let url = deps.remoteUrl;
  if (!url) {
    const list = (await runCommand(deps.dvcBin, ['remote', 'list'], { cwd: dvcRoot })).stdout;
    // DVC prints local URLs resolved against the clone; a relative URL in the
    // committed config therefore points into (or beside) the temporary clone.
    const current = list.split('\n').map((l) => l.trim().split(/\s+/)).find(([name]) => name === remoteName)?.[1];
    const isLocalRepo = existsSync(repo) && (await stat(repo)).isDirectory();
    if (current && isLocalRepo && isAbsolute(current) && !existsSync(current)) {
      url = resolve(resolve(repo), relative(cloneRoot, current));
    }
  }
  if (url) await runCommand(deps.dvcBin, ['remote', 'modify', '--local', remoteName, 'url', url], { cwd: dvcRoot });
  const cache = join(deps.cacheDir, 'dvc-cache');
  await runCommand(deps.dvcBin, ['cache', 'dir', '--local', cache], { cwd: dvcRoot });
}
