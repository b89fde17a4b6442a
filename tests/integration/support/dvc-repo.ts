import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../lib/process/run';
import { ROOT, VENV_BIN } from './env';

export interface TinyDatasetRepo {
  repo: string;
  path: string;
  rev: string;
  /** Removes the repository and its DVC remote. */
  cleanup(): Promise<void>;
}

/**
 * A throw-away git + DVC repository holding a tiny Fashion-MNIST version,
 * pushed to a local DVC remote and tagged, exactly as a user would publish one.
 */
export async function createTinyDatasetRepo(opts: { perClassTrain?: number; perClassTest?: number } = {}): Promise<TinyDatasetRepo> {
  const repo = await mkdtemp(join(tmpdir(), 'lifecycle-dvc-'));
  const dvc = join(VENV_BIN, 'dvc');
  const git = (...args: string[]) => runCommand('git', args, { cwd: repo });
  await git('init', '--quiet');
  await git('config', 'user.email', 'test@lifecycle.local');
  await git('config', 'user.name', 'lifecycle-test');
  await runCommand(dvc, ['init', '--quiet'], { cwd: repo });
  await runCommand(dvc, ['config', 'core.analytics', 'false'], { cwd: repo });
  const remote = `${repo}-remote`;
  await runCommand(dvc, ['remote', 'add', '-d', 'storage', remote], { cwd: repo });
  await runCommand(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'scripts/prepare-dataset.ts'), '--version', 'tiny', '--out', join(repo, 'data/tiny'), '--per-class-train', String(opts.perClassTrain ?? 30), '--per-class-test', String(opts.perClassTest ?? 10)],
    { cwd: ROOT },
  );
  await runCommand(dvc, ['add', '--quiet', 'data/tiny'], { cwd: repo });
  await runCommand(dvc, ['push', '--quiet'], { cwd: repo });
  await writeFile(join(repo, 'README.md'), 'tiny dataset for tests\n');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'tiny dataset v1');
  await git('tag', 'tiny-v1');
  const cleanup = async () => {
    await rm(repo, { recursive: true, force: true });
    await rm(remote, { recursive: true, force: true });
  };
  return { repo, path: 'data/tiny', rev: 'tiny-v1', cleanup };
}
