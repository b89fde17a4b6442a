import { readdir, readFile, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DatasetError, materializeDataset } from '../../activities/dataset';
import { runCommand } from '../../lib/process/run';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { VENV_BIN } from './support/env';

describe('materializeDataset (real git + DVC)', () => {
  let ds: TinyDatasetRepo;
  let cacheDir: string;
  const deps = () => ({ dvcBin: join(VENV_BIN, 'dvc'), defaultRepo: ds.repo, defaultPath: ds.path, cacheDir });

  beforeAll(async () => {
    ds = await createTinyDatasetRepo({ perClassTrain: 5, perClassTest: 2 });
    cacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-data-'));
  });

  afterAll(async () => {
    await ds.cleanup();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('pulls a tagged version from the DVC remote with its DVC digest and commit', async () => {
    const got = await materializeDataset({ rev: ds.rev }, deps());
    const pointer = parse(await readFile(join(ds.repo, `${ds.path}.dvc`), 'utf8')) as { outs: { md5: string; nfiles: number }[] };
    expect(`${got.digest}.dir`).toBe(pointer.outs[0]!.md5);
    expect(got.nfiles).toBe(pointer.outs[0]!.nfiles);
    expect(got.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(JSON.parse(await readFile(join(got.dir, 'labels.json'), 'utf8'))).toHaveLength(10);
    expect(await readdir(join(got.dir, 'train', '09'))).toHaveLength(5);
    expect(await readdir(join(got.dir, 'test', '00'))).toHaveLength(2);
  });

  it('pulls an older revision after the dataset changed, each into its own digest folder', async () => {
    const git = (...a: string[]) => runCommand('git', a, { cwd: ds.repo });
    await runCommand(tsxBin(), [join(__dirname, '../../scripts/prepare-dataset.ts'), '--version', 'tiny', '--out', join(ds.repo, ds.path), '--per-class-train', '6', '--per-class-test', '2']);
    await runCommand(join(VENV_BIN, 'dvc'), ['add', '--quiet', ds.path], { cwd: ds.repo });
    await runCommand(join(VENV_BIN, 'dvc'), ['push', '--quiet'], { cwd: ds.repo });
    await git('commit', '--quiet', '-am', 'tiny v2');
    const latest = await materializeDataset({}, deps());
    const old = await materializeDataset({ rev: ds.rev }, deps());
    expect(latest.digest).not.toBe(old.digest);
    expect(await readdir(join(latest.dir, 'train', '00'))).toHaveLength(6);
    expect(await readdir(join(old.dir, 'train', '00'))).toHaveLength(5);
  });

  it('re-anchors a relative local remote on the source repo from a clone under a long path', async () => {
    // `dvc remote list` wraps a long path at the terminal width; a clone this deep once left the
    // remote pointing into the clone (the CI drill stack's bootstrap failed on it).
    const own = await createTinyDatasetRepo({ perClassTrain: 2, perClassTest: 1, relativeRemote: true });
    const deep = join(cacheDir, 'a-cache-folder-deep-enough-for-dvc-to-wrap-its-remote-list-output', 'x'.repeat(60));
    try {
      const got = await materializeDataset({ rev: own.rev }, { ...deps(), defaultRepo: own.repo, defaultPath: own.path, cacheDir: deep });
      expect(await readdir(join(got.dir, 'train', '09'))).toHaveLength(2);
    } finally {
      await own.cleanup();
    }
  });

  it('rejects an unknown revision as a non-retryable dataset error', async () => {
    await expect(materializeDataset({ rev: 'no-such-tag' }, deps())).rejects.toBeInstanceOf(DatasetError);
  });

  it('rejects a path that is not DVC-tracked', async () => {
    await expect(materializeDataset({ path: 'README.md', rev: ds.rev }, deps())).rejects.toThrow(/not DVC-tracked/);
  });
});

function tsxBin(): string {
  return join(__dirname, '../../node_modules/.bin/tsx');
}
