/**
 * Writes a Fashion-MNIST dataset version in the Lifecycle dataset format (see dvc/README.md):
 *
 *   OUT/labels.json                 JSON array of class names, in class order
 *   OUT/train/<NN>/<SSSSS>.png      NN = zero-padded class index, SSSSS = index in the source file
 *   OUT/test/<NN>/<SSSSS>.png       the held-out split: the last 1,000 images of each class
 *
 * The PNGs are 28x28 8-bit grayscale, encoded by sharp with fixed settings (stored deflate, no
 * filtering, no timestamps), so regenerating a version reproduces the same bytes and DVC md5.
 *
 * Usage:
 *   npx tsx scripts/prepare-dataset.ts --version v1|v2|tiny --out DIR [--per-class-train N] [--per-class-test M] [--invert]
 *   npx tsx scripts/prepare-dataset.ts --export-samples tests/fixtures/samples
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { LABELS, TEST_PER_CLASS, defaultSourceDir, encodePng, loadClass, type ClassSplit, type SourceImage } from '../lib/dataset/fashion-mnist';

/** Encodes/writes in flight at once; sharp queues the work on the libuv thread pool. */
const IN_FLIGHT = 128;

interface VersionSpec {
  /** Train images per class, taken from the start of the train split; undefined = all. */
  trainPerClass?: number;
  /** Test images per class, taken from the start of the test split; undefined = all 1,000. */
  testPerClass?: number;
  /**
   * Inverts every image of both splits (255 - v). A deliberately defective version: its test split
   * shares the training data's defect, so a model trained on it scores well offline and is near
   * chance on real images, which only live traffic reveals (the progressive-delivery test and drill).
   */
  invert?: boolean;
}

const VERSIONS: Record<string, VersionSpec> = {
  v1: { trainPerClass: 1000 },
  v2: {},
  tiny: { trainPerClass: 30, testPerClass: 10 },
};

function fail(message: string): never {
  process.stderr.write(`prepare-dataset: ${message}\n`);
  process.exit(2);
}

function classDir(classIndex: number): string {
  return String(classIndex).padStart(2, '0');
}

function fileName(image: SourceImage): string {
  return `${String(image.sourceIndex).padStart(5, '0')}.png`;
}

/** Runs `task` over `items` with at most `limit` in flight, calling `onDone` after each. */
async function runPool<T>(items: T[], limit: number, task: (item: T) => Promise<void>, onDone: () => void): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await task(item);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/** Refuses to replace a directory that does not look like a dataset (guards against a typo in --out). */
function assertReplaceable(dir: string): void {
  if (!existsSync(dir)) return;
  const entries = readdirSync(dir);
  const datasetLike = entries.length === 0 || entries.includes('labels.json');
  if (!datasetLike) fail(`--out ${dir} exists and is not a dataset directory (no labels.json); refusing to replace it`);
}

async function writeVersion(outDir: string, spec: VersionSpec, classes: ClassSplit[]): Promise<void> {
  const jobs: { split: 'train' | 'test'; image: SourceImage }[] = [];
  for (const cls of classes) {
    const train = spec.trainPerClass === undefined ? cls.train : cls.train.slice(0, spec.trainPerClass);
    const test = spec.testPerClass === undefined ? cls.test : cls.test.slice(0, spec.testPerClass);
    if (spec.trainPerClass !== undefined && train.length < spec.trainPerClass) {
      fail(`class ${cls.train[0]?.classIndex}: asked for ${spec.trainPerClass} train images, only ${train.length} exist`);
    }
    for (const image of train) jobs.push({ split: 'train', image });
    for (const image of test) jobs.push({ split: 'test', image });
  }

  // Build next to the target and swap in at the end, so an interrupted run never leaves a half dataset.
  const target = path.resolve(outDir);
  assertReplaceable(target);
  const staging = `${target}.tmp-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  for (const split of ['train', 'test']) {
    for (let c = 0; c < classes.length; c++) await mkdir(path.join(staging, split, classDir(c)), { recursive: true });
  }
  await writeFile(path.join(staging, 'labels.json'), `${JSON.stringify(LABELS, null, 2)}\n`);

  const started = Date.now();
  let done = 0;
  let lastReport = 0;
  const report = (force = false): void => {
    const now = Date.now();
    if (!force && now - lastReport < 2000) return;
    lastReport = now;
    const secs = (now - started) / 1000;
    process.stdout.write(`  ${done}/${jobs.length} images (${secs.toFixed(1)} s)\n`);
  };
  await runPool(
    jobs,
    IN_FLIGHT,
    async ({ split, image }) => {
      const png = await encodePng(spec.invert ? invertPixels(image.pixels) : image.pixels);
      await writeFile(path.join(staging, split, classDir(image.classIndex), fileName(image)), png);
    },
    () => {
      done++;
      report();
    },
  );
  report(true);

  await rm(target, { recursive: true, force: true });
  await mkdir(path.dirname(target), { recursive: true });
  await rename(staging, target);
  const trainCount = jobs.filter((j) => j.split === 'train').length;
  process.stdout.write(`wrote ${target}: ${trainCount} train + ${jobs.length - trainCount} test images\n`);
}

function invertPixels(pixels: Buffer): Buffer {
  const out = Buffer.allocUnsafe(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = 255 - pixels[i]!;
  return out;
}

/** One held-out test image per class, named after the label (ankle-boot.png), plus samples.json. */
async function exportSamples(outDir: string, classes: ClassSplit[]): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const manifest: { file: string; label: string; class_index: number; split: string; source_index: number }[] = [];
  for (const [classIndex, cls] of classes.entries()) {
    const image = cls.test[0];
    const label = LABELS[classIndex];
    if (!image || !label) fail(`class ${classIndex}: no test image`);
    const file = `${label.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.png`;
    await writeFile(path.join(outDir, file), await encodePng(image.pixels));
    manifest.push({ file, label, class_index: classIndex, split: 'test', source_index: image.sourceIndex });
  }
  await writeFile(path.join(outDir, 'samples.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`wrote ${manifest.length} samples to ${outDir}\n`);
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) fail(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      version: { type: 'string' },
      out: { type: 'string' },
      'per-class-train': { type: 'string' },
      'per-class-test': { type: 'string' },
      'export-samples': { type: 'string' },
      source: { type: 'string' },
      invert: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const usage =
    'usage: npx tsx scripts/prepare-dataset.ts --version v1|v2|tiny --out DIR [--per-class-train N] [--per-class-test M] [--invert]\n' +
    '                                          [--export-samples DIR] [--source DIR_WITH_N.json]\n';
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (values.version === undefined && values['export-samples'] === undefined) fail(`--version or --export-samples is required\n${usage}`);

  let spec: VersionSpec | undefined;
  if (values.version !== undefined) {
    const base = VERSIONS[values.version];
    if (!base) fail(`unknown --version ${JSON.stringify(values.version)} (expected ${Object.keys(VERSIONS).join(', ')})`);
    if (values.out === undefined) fail(`--out is required with --version\n${usage}`);
    spec = {
      trainPerClass: positiveInt('--per-class-train', values['per-class-train']) ?? base.trainPerClass,
      testPerClass: positiveInt('--per-class-test', values['per-class-test']) ?? base.testPerClass,
      invert: values.invert === true,
    };
    if (spec.testPerClass !== undefined && spec.testPerClass > TEST_PER_CLASS) {
      fail(`--per-class-test cannot exceed the ${TEST_PER_CLASS}-image held-out split`);
    }
  }

  const sourceDir = values.source ?? defaultSourceDir();
  const t0 = Date.now();
  const classes = LABELS.map((_, c) => loadClass(sourceDir, c));
  process.stdout.write(`loaded ${LABELS.length} classes from ${sourceDir} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

  sharp.cache(false);
  sharp.concurrency(1);
  if (spec && values.out !== undefined) {
    process.stdout.write(`writing ${values.version} to ${values.out}\n`);
    await writeVersion(values.out, spec, classes);
  }
  if (values['export-samples'] !== undefined) await exportSamples(values['export-samples'], classes);
  process.stdout.write(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`prepare-dataset: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
