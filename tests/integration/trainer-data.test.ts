import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './support/env';
import { GRAY_CLASSES, writeShapesDataset } from './support/trainer-datasets';
import { PYTHON } from './support/trainer-process';

const run = promisify(execFile);

/** Train images per class as the trainer's loader sees them (lifecycle_trainer/data.py, without torch). */
async function trainCounts(data: string, maxPerClass: number | null): Promise<number[]> {
  const code = [
    'import json, sys, numpy as np',
    'from pathlib import Path',
    'from lifecycle_trainer.data import load_dataset',
    'cap = None if sys.argv[2] == "none" else int(sys.argv[2])',
    'ds = load_dataset(Path(sys.argv[1]), cap)',
    'print(json.dumps(np.bincount(ds.train.labels, minlength=len(ds.labels)).tolist()))',
  ].join('\n');
  const { stdout } = await run(PYTHON, ['-c', code, data, maxPerClass === null ? 'none' : String(maxPerClass)], { env: { ...process.env, PYTHONPATH: join(ROOT, 'trainer') } });
  return JSON.parse(stdout) as number[];
}

/**
 * The per-class cap (max_train_per_class) shortens training on the base data; a curated version's
 * production samples (prod-*.png, named so by activities/curation.ts) are always kept on top of it,
 * or a capped retrain would learn nothing from production.
 */
describe('trainer data: max_train_per_class keeps curated production samples', () => {
  let root: string;
  let data: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifecycle-trainer-data-'));
    data = await writeShapesDataset(join(root, 'data'), { classes: GRAY_CLASSES, channels: 1, size: 16, perClassTrain: 6, perClassTest: 2 });
    // Two production samples in class 00 whose names sort after every base file: a plain first-N cap would drop them.
    await copyFile(join(data, 'train/00/0000.png'), join(data, 'train/00/prod-00aa11bb22cc33dd.png'));
    await copyFile(join(data, 'train/00/0001.png'), join(data, 'train/00/prod-ffee11bb22cc33dd.png'));
  });

  afterAll(() => rm(root, { recursive: true, force: true }));

  it('caps the base images per class and adds every prod-* sample', async () => {
    const others = GRAY_CLASSES.slice(1).map(() => 3);
    expect(await trainCounts(data, 3)).toEqual([5, ...others]);
  });

  it('takes everything without a cap', async () => {
    expect(await trainCounts(data, null)).toEqual([8, ...GRAY_CLASSES.slice(1).map(() => 6)]);
  });
});
