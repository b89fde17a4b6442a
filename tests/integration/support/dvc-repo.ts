import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../lib/process/run';
import { ROOT, VENV_BIN } from './env';

export interface TinyDatasetRepo {
  repo: string;
  path: string;
  rev: string;
  /** Regenerates the dataset with other sizes, `dvc add`s, pushes (unless `push: false`), commits and tags it; returns the tag. */
  commitVersion(opts: { perClassTrain: number; perClassTest: number; tag: string; push?: boolean; invert?: boolean }): Promise<string>;
  /** Removes the repository and its DVC remote. */
  cleanup(): Promise<void>;
}

/**
 * A throw-away git + DVC repository holding a tiny Fashion-MNIST version,
 * pushed to a local DVC remote and tagged, exactly as a user would publish one
 * (`invert`: every image, train and test, inverted: a defect its own test split shares).
 */
export async function createTinyDatasetRepo(opts: { perClassTrain?: number; perClassTest?: number; relativeRemote?: boolean; invert?: boolean } = {}): Promise<TinyDatasetRepo> {
  const repo = await mkdtemp(join(tmpdir(), 'lifecycle-dvc-'));
  const dvc = (...args: string[]) => runCommand(join(VENV_BIN, 'dvc'), args, { cwd: repo });
  const git = (...args: string[]) => runCommand('git', args, { cwd: repo });
  const generate = (train: number, test: number, invert = false) =>
    runCommand(
      join(ROOT, 'node_modules/.bin/tsx'),
      [
        join(ROOT, 'scripts/prepare-dataset.ts'), '--version', 'tiny', '--out', join(repo, 'data/tiny'),
        '--per-class-train', String(train), '--per-class-test', String(test), ...(invert ? ['--invert'] : []),
      ], // prettier-ignore
      { cwd: ROOT },
    );
  await git('init', '--quiet');
  await git('config', 'user.email', 'test@lifecycle.local');
  await git('config', 'user.name', 'lifecycle-test');
  await dvc('init', '--quiet');
  await dvc('config', 'core.analytics', 'false');
  // relativeRemote: the project's own layout, a git-ignored folder in the checkout named by a
  // relative URL (relative to .dvc/), which a clone elsewhere must re-anchor on the source.
  const remote = opts.relativeRemote ? join(repo, '.dvc-storage') : `${repo}-remote`;
  await dvc('remote', 'add', '-d', 'storage', opts.relativeRemote ? '../.dvc-storage' : remote);
  if (opts.relativeRemote) await writeFile(join(repo, '.gitignore'), '/.dvc-storage/\n');
  await generate(opts.perClassTrain ?? 30, opts.perClassTest ?? 10, opts.invert);
  await dvc('add', '--quiet', 'data/tiny');
  await dvc('push', '--quiet');
  await writeFile(join(repo, 'README.md'), 'tiny dataset for tests\n');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'tiny dataset v1');
  await git('tag', 'tiny-v1');
  return {
    repo,
    path: 'data/tiny',
    rev: 'tiny-v1',
    async commitVersion(v) {
      await rm(join(repo, 'data/tiny'), { recursive: true, force: true });
      await generate(v.perClassTrain, v.perClassTest, v.invert);
      await dvc('add', '--quiet', 'data/tiny');
      if (v.push !== false) await dvc('push', '--quiet');
      await git('add', 'data/tiny.dvc');
      await git('commit', '--quiet', '-m', `tiny dataset ${v.tag}`);
      await git('tag', v.tag);
      return v.tag;
    },
    async cleanup() {
      await rm(repo, { recursive: true, force: true });
      await rm(remote, { recursive: true, force: true });
    },
  };
}
