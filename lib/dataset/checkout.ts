import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCommand } from '../process/run';
import type { DatasetRef, ResolvedDataset } from '../lifecycle/types';
import { DatasetError } from './errors';

export interface DatasetDeps {
  dvcBin: string;
  gitBin?: string;
  /** Python of the venv that has DVC (runs the remote check); default: next to dvcBin. */
  python?: string;
  /** scripts/dataset/dvc-objects-check.py; without it the remote is not checked. */
  remoteCheckScript?: string;
  /** Default repository when a DatasetRef names none. */
  defaultRepo: string;
  defaultPath: string;
  /** Where clones and materialised dataset versions live (one folder per DVC digest). */
  cacheDir: string;
  /** Overrides the DVC default remote's URL (e.g. an S3 bucket in compose). */
  remoteUrl?: string;
  /** Called while long commands run, so activities can heartbeat. */
  onProgress?: (message: string) => void;
}

/** A throw-away clone of the dataset's repository at the requested revision. */
export interface Checkout {
  dataset: ResolvedDataset;
  /** Root of the clone. */
  work: string;
  /** The DVC project inside the clone (supports `dvc init --subdir`). */
  dvcRoot: string;
  /** The pointer file, relative to dvcRoot. */
  pointer: string;
  cleanup(): Promise<void>;
}

export interface DvcOut {
  md5: string;
  nfiles?: number;
  size?: number;
}

/**
 * Clones the repository at `ref.rev` into a fresh folder (so concurrent
 * resolutions of different revisions never share a work tree), pins the
 * commit, reads the DVC pointer for the digest and points the clone's DVC
 * remote and cache where this worker keeps them. No data is fetched.
 */
export async function checkoutRevision(ref: DatasetRef, deps: DatasetDeps): Promise<Checkout> {
  const git = deps.gitBin ?? 'git';
  const repo = ref.repo ?? deps.defaultRepo;
  const path = normalizePath(ref.path ?? deps.defaultPath);
  const rev = ref.rev ?? 'HEAD';
  await mkdir(deps.cacheDir, { recursive: true });
  const work = await mkdtemp(join(deps.cacheDir, 'clone-'));
  const cleanup = () => rm(work, { recursive: true, force: true });
  try {
    deps.onProgress?.(`cloning ${repo}@${rev}`);
    await runCommand(git, ['clone', '--quiet', '--no-checkout', repo, work]);
    try {
      await runCommand(git, ['-c', 'advice.detachedHead=false', 'checkout', '--quiet', rev], { cwd: work });
    } catch (err) {
      throw new DatasetError(`Revision ${rev} not found in ${repo}: ${(err as Error).message}`, 'DATASET_REVISION_NOT_FOUND');
    }
    const commit = (await runCommand(git, ['rev-parse', 'HEAD'], { cwd: work })).stdout.trim();
    const pointerFile = join(work, `${path}.dvc`);
    if (!existsSync(pointerFile)) throw new DatasetError(`${path} is not DVC-tracked at ${rev} (no ${path}.dvc in ${repo})`, 'DATASET_NOT_TRACKED');
    const out = parsePointer(await readFile(pointerFile, 'utf8'), pointerFile);
    const dvcRoot = findDvcRoot(work, dirname(pointerFile));
    await configureRemote(deps, dvcRoot, repo, work);
    const dataset: ResolvedDataset = {
      repo,
      path,
      rev,
      commit,
      digest: out.md5.replace(/\.dir$/, ''),
      nfiles: out.nfiles ?? 0,
      sizeBytes: out.size ?? 0,
      source: `${repo}@${commit.slice(0, 12)}:${path}`,
      name: path.split('/').pop() ?? path,
    };
    return { dataset, work, dvcRoot, pointer: relative(dvcRoot, pointerFile), cleanup };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

function normalizePath(p: string): string {
  if (isAbsolute(p) || p.split('/').includes('..')) throw new DatasetError(`Dataset path must be relative to the repository root: ${p}`);
  return p.replace(/\/+$/, '');
}

/** The first output of a DVC pointer file (`<path>.dvc`). */
export function parsePointer(text: string, file: string): DvcOut {
  const doc = parseYaml(text) as { outs?: DvcOut[] } | null;
  const out = doc?.outs?.[0];
  if (!out?.md5) throw new DatasetError(`${file} is not a DVC pointer with an md5`);
  return out;
}

/** The nearest folder at or above `from` (inside the clone) holding a `.dvc/` directory. */
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
 * remoteUrl when set, or else re-anchor a relative local URL on the source
 * repo; and share one DVC cache per worker so a digest is downloaded once.
 */
async function configureRemote(deps: DatasetDeps, dvcRoot: string, repo: string, cloneRoot: string): Promise<void> {
  const remoteName = (await runCommand(deps.dvcBin, ['remote', 'default'], { cwd: dvcRoot }).catch(() => ({ stdout: '' }))).stdout.trim();
  if (!remoteName) throw new DatasetError(`The DVC project at ${repo} has no default remote`);
  let url = deps.remoteUrl;
  if (!url) {
    // DVC prints a local URL resolved against the clone, so a relative URL in the committed
    // config points into (or beside) the temporary clone. `dvc config` prints it on one line;
    // `dvc remote list` wraps long paths at the terminal width (a long clone path broke the parse).
    const current = (await runCommand(deps.dvcBin, ['config', `remote.${remoteName}.url`], { cwd: dvcRoot })).stdout.trim();
    const isLocalRepo = existsSync(repo) && (await stat(repo)).isDirectory();
    if (current && isLocalRepo && isAbsolute(current) && !existsSync(current)) {
      url = resolve(resolve(repo), relative(cloneRoot, current));
    }
  }
  if (url) await runCommand(deps.dvcBin, ['remote', 'modify', '--local', remoteName, 'url', url], { cwd: dvcRoot });
  await runCommand(deps.dvcBin, ['cache', 'dir', '--local', join(deps.cacheDir, 'dvc-cache')], { cwd: dvcRoot });
}
