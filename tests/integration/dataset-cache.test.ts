import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Materialize from '../../lib/dataset/materialize';
import { resolveDataset } from '../../activities/dataset';
import type { ResolvedDataset } from '../../lib/lifecycle/types';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { testDatasetDeps } from './support/temporal-workers';

/** Two copies of the module: two workers on one machine, each with its own in-process de-duplication. */
function isolatedMaterialize(): typeof Materialize.materialize {
  let fn: typeof Materialize.materialize | undefined;
  jest.isolateModules(() => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    fn = (require('../../lib/dataset/materialize') as typeof Materialize).materialize;
  });
  return fn!;
}

/**
 * "Pull once" on real git and DVC: the pipeline side resolves without files,
 * and the training side's digest-keyed cache stays correct when two workers
 * pull the same digest at the same moment (the race the old cache had).
 */
describe('dataset resolution and the digest-keyed cache (real git + DVC)', () => {
  let ds: TinyDatasetRepo;
  let cacheDir: string;
  let resolved: ResolvedDataset;

  beforeAll(async () => {
    ds = await createTinyDatasetRepo({ perClassTrain: 5, perClassTest: 2 });
    cacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-cache-race-'));
    resolved = await resolveDataset({ repo: ds.repo, path: ds.path, rev: ds.rev }, testDatasetDeps(mkdtempSync(join(tmpdir(), 'lifecycle-resolve-'))));
  });

  afterAll(async () => {
    await ds.cleanup();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('resolves a revision to its commit and digest without any dataset file', () => {
    expect(resolved).toMatchObject({ path: 'data/tiny', rev: 'tiny-v1', nfiles: 5 * 10 + 2 * 10 + 1 });
    expect(resolved.commit).toMatch(/^[0-9a-f]{40}$/);
  });

  it('refuses a revision whose data was never pushed to the DVC remote, without retrying', async () => {
    const tag = await ds.commitVersion({ perClassTrain: 6, perClassTest: 2, tag: 'unpushed', push: false });
    await expect(resolveDataset({ repo: ds.repo, path: ds.path, rev: tag }, testDatasetDeps(cacheDir))).rejects.toMatchObject({ code: 'DATASET_NOT_IN_REMOTE' });
  });

  it('lets two workers pull the same digest at once: one complete folder, both get it, nothing left over', async () => {
    const ref = { ...resolved, rev: resolved.commit };
    const deps = testDatasetDeps(cacheDir);
    const [a, b] = await Promise.all([isolatedMaterialize()(ref, deps), isolatedMaterialize()(ref, deps)]);
    expect(a.dir).toBe(join(cacheDir, resolved.digest));
    expect(b.dir).toBe(a.dir);
    expect(a.splits).toEqual(b.splits);
    expect(readdirSync(join(a.dir, 'train', '00'))).toHaveLength(5);
    expect(existsSync(join(a.dir, '.lifecycle-complete'))).toBe(true);
    expect(readdirSync(cacheDir).filter((f) => f.startsWith('clone-') || f.includes('.stale-'))).toEqual([]);
  });

  it('replaces a half-written folder left by an interrupted pull instead of trusting it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifecycle-cache-partial-'));
    mkdirSync(join(dir, resolved.digest, 'train'), { recursive: true });
    writeFileSync(join(dir, resolved.digest, 'train', 'partial.png'), 'x');
    const got = await isolatedMaterialize()({ ...resolved, rev: resolved.commit }, testDatasetDeps(dir));
    expect(existsSync(join(got.dir, 'train', 'partial.png'))).toBe(false);
    expect(readdirSync(join(got.dir, 'test', '00'))).toHaveLength(2);
    await rm(dir, { recursive: true, force: true });
  });
});
