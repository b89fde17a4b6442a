import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../../lib/process/run';
import { VENV_BIN } from './env';
import { writeShapesDataset, type ShapesDatasetOptions } from './trainer-datasets';

export interface ShapesRepo {
  repo: string;
  path: string;
  rev: string;
  cleanup(): Promise<void>;
}

/**
 * A user's own labelled images as the README tells them to publish them: a
 * synthetic shapes dataset (a folder per class, see trainer-datasets.ts)
 * tracked by DVC in a throw-away git repository, pushed to a local remote and tagged.
 */
export async function createShapesRepo(opts: ShapesDatasetOptions): Promise<ShapesRepo> {
  const repo = await mkdtemp(join(tmpdir(), 'lifecycle-shapes-'));
  const dvc = (...args: string[]) => runCommand(join(VENV_BIN, 'dvc'), args, { cwd: repo });
  const git = (...args: string[]) => runCommand('git', args, { cwd: repo });
  await git('init', '--quiet');
  await git('config', 'user.email', 'test@lifecycle.local');
  await git('config', 'user.name', 'lifecycle-test');
  await dvc('init', '--quiet');
  await dvc('config', 'core.analytics', 'false');
  const remote = `${repo}-remote`;
  await dvc('remote', 'add', '-d', 'storage', remote);
  await writeShapesDataset(join(repo, 'data/shapes'), opts);
  await dvc('add', '--quiet', 'data/shapes');
  await dvc('push', '--quiet');
  await writeFile(join(repo, 'README.md'), 'shapes dataset for tests\n');
  await git('add', '-A');
  await git('commit', '--quiet', '-m', 'shapes v1');
  await git('tag', 'shapes-v1');
  return {
    repo,
    path: 'data/shapes',
    rev: 'shapes-v1',
    cleanup: async () => {
      await rm(repo, { recursive: true, force: true });
      await rm(remote, { recursive: true, force: true });
    },
  };
}
