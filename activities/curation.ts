import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import sharp from 'sharp';
import { checkoutRevision, parsePointer, type DatasetDeps } from '../lib/dataset/checkout';
import { materialize } from '../lib/dataset/materialize';
import { readLabelledPayloads, type LabelledPayload } from '../lib/curation/labelled-payloads';
import type { MlflowClient } from '../lib/mlflow/client';
import { runCommand } from '../lib/process/run';
import { championVersion, getVersionInfo } from './registry';

/** Registered-model tags: when the last curation ran, and the newest label it took (the next one starts after it). */
export const CURATION_TAGS = { at: 'lifecycle.curation.at', until: 'lifecycle.curation.until', last: 'lifecycle.curation.last' } as const;

export interface CurateInput {
  modelName: string;
  /** Fewer new labelled payloads than this: nothing is built. */
  minLabels: number;
  /** Share of the new labelled payloads held out for the test split (by a hash of the request id). */
  holdOutShare: number;
  /** A curation of the same model this recently: nothing is built (unless `force`). */
  cooldownMs: number;
  force: boolean;
  /** The workflow's time: the cooldown is judged against it, so a retry judges the same way. */
  nowMs: number;
}

export interface CuratedDataset {
  repo: string;
  path: string;
  /** The tag pushed to the dataset repository (a dataset version's name). */
  rev: string;
  commit: string;
  digest: string;
}

export type CurationResult =
  | {
      status: 'curated';
      modelName: string;
      dataset: CuratedDataset;
      /** The dataset it grew from: the champion's training data. */
      base: { path: string; commit: string; digest: string; championVersion: string };
      /** Distinct images added to each split. */
      added: { train: number; test: number };
      /** Labels that are not one of the dataset's classes. */
      skipped: number;
      /** Labelled requests whose image another one already brought (same pixels, same label). */
      duplicates: number;
      /** Images that requests labelled differently: left out. */
      conflicting: number;
      /** Samples per credential that labelled them. */
      labelledBy: Record<string, number>;
      labelsUntil: number;
    }
  | { status: 'not_enough_labels' | 'cooldown' | 'no_champion' | 'no_dataset'; modelName: string; labels: number; reason: string };

export interface CurationDeps {
  mlflow: MlflowClient;
  datasets: DatasetDeps;
  /** Root of the payload log (the logger's PAYLOAD_LOG_DIR). */
  payloadDir: string;
  onProgress?: (message: string) => void;
}

/** Labelled payloads of the model not yet in a curated version. */
export async function newLabels(mlflow: MlflowClient, payloadDir: string, modelName: string): Promise<LabelledPayload[]> {
  const until = Number((await mlflow.registeredModelTag(modelName, CURATION_TAGS.until)) ?? 0);
  return readLabelledPayloads(payloadDir, modelName, Number.isFinite(until) ? until : 0);
}

/** The same deterministic, uncompressed PNG the default datasets use (scripts/prepare-dataset.ts), at the payload's own geometry. */
function encode(p: LabelledPayload): Promise<Buffer> {
  const image = sharp(Buffer.from(p.pixels), { raw: { width: p.width, height: p.height, channels: p.channels as 1 | 3 } });
  return (p.channels === 1 ? image.toColourspace('b-w') : image).png({ compressionLevel: 0, adaptiveFiltering: false, palette: false, progressive: false }).toBuffer();
}

/** Class folder of each label in a dataset directory (labels.json + NN folders, or folders named by label). */
async function classFolders(dir: string): Promise<Map<string, string>> {
  const file = join(dir, 'labels.json');
  if (existsSync(file)) {
    const labels = JSON.parse(await readFile(file, 'utf8')) as string[];
    return new Map(labels.map((label, i) => [label, String(i).padStart(2, '0')]));
  }
  const folders = (await readdir(join(dir, 'train'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  return new Map(folders.map((f) => [f, f]));
}

/**
 * A new dataset version of the model from production: the champion's training data plus the
 * labelled payloads since the last curation, each distinct image once as a PNG in its class
 * folder; a share of them (chosen by a hash of the image's content, so stable across retries and
 * never the same image on both sides) goes to the test split, the rest to train. The old test split is kept whole, so the candidate is gated on the
 * old held-out images plus held-out production ones, and the fair gate re-measures the champion
 * on that same split. Published like any version: `dvc add` and `dvc push` in a clone of the
 * dataset repository at the champion's dataset commit, a commit with a manifest (sources and
 * labellers) beside the pointer, and a tag pushed to the repository. The tag is named after the
 * content's digest, so a retried attempt finds its own tag instead of making a second version.
 */
export async function curateDataset(input: CurateInput, deps: CurationDeps): Promise<CurationResult> {
  const { modelName } = input;
  const { mlflow } = deps;
  const lastAt = Number((await mlflow.registeredModelTag(modelName, CURATION_TAGS.at)) ?? 0);
  const labels = await newLabels(mlflow, deps.payloadDir, modelName);
  const stop = (status: 'not_enough_labels' | 'cooldown' | 'no_champion' | 'no_dataset', reason: string): CurationResult => ({ status, modelName, labels: labels.length, reason });
  if (!input.force && lastAt && input.nowMs - lastAt < input.cooldownMs) {
    return stop('cooldown', `the last curation of ${modelName} was ${Math.round((input.nowMs - lastAt) / 60_000)} min ago (cooldown ${Math.round(input.cooldownMs / 60_000)} min)`);
  }
  if (labels.length < input.minLabels) return stop('not_enough_labels', `${labels.length} new labelled payload(s), fewer than ${input.minLabels}`);
  const champion = await championVersion(mlflow, modelName);
  if (!champion) return stop('no_champion', `${modelName} has no champion: no training data to grow`);
  const info = await getVersionInfo(mlflow, { name: modelName, version: champion }, 'test_accuracy');
  if (!info.dataset) return stop('no_dataset', `v${champion} has no recorded dataset (registered by hand?)`);
  const base = await materialize(info.dataset, { ...deps.datasets, onProgress: deps.onProgress });
  const folders = await classFolders(base.dir);

  const checkout = await checkoutRevision({ repo: base.repo, path: base.path, rev: base.commit }, { ...deps.datasets, onProgress: deps.onProgress });
  try {
    const git = (...args: string[]) => runCommand(deps.datasets.gitBin ?? 'git', ['-c', 'user.name=lifecycle-curator', '-c', 'user.email=curator@lifecycle.local', ...args], { cwd: checkout.work });
    const dvc = (...args: string[]) => runCommand(deps.datasets.dvcBin, args, { cwd: checkout.dvcRoot });
    const path = join(dirname(base.path), `${modelName}-curated`);
    const target = join(checkout.work, path);
    await rm(target, { recursive: true, force: true });
    deps.onProgress?.(`copying ${base.name} (${base.nfiles || '?'} files)`);
    await mkdir(target, { recursive: true });
    await runCommand('cp', ['-r', `${base.dir}/.`, target]);
    await rm(join(target, '.lifecycle-complete'), { force: true });
    const added = { train: 0, test: 0 };
    const labelledBy: Record<string, number> = {};
    let skipped = 0;
    // One sample per distinct image: production repeats inputs, and the split is made by content, so
    // the same image can never be in train and in test (which would inflate the candidate's test score).
    // An image labelled differently by different requests is left out (conflicting).
    const byContent = new Map<string, { sample: LabelledPayload; folder: string } | null>();
    for (const p of labels) {
      const folder = folders.get(p.label);
      if (!folder) {
        skipped += 1;
        continue;
      }
      const hash = createHash('sha256').update(`${p.height}x${p.width}x${p.channels}:`).update(p.pixels).digest('hex');
      const seen = byContent.get(hash);
      if (seen === undefined) byContent.set(hash, { sample: p, folder });
      else if (seen !== null && seen.folder !== folder) byContent.set(hash, null);
    }
    const duplicates = labels.length - skipped - byContent.size;
    const conflicting = [...byContent.values()].filter((v) => v === null).length;
    deps.onProgress?.(`writing ${byContent.size - conflicting} distinct labelled images (${duplicates} repeats, ${conflicting} conflicting)`);
    for (const [hash, entry] of byContent) {
      if (entry === null) continue;
      const split = parseInt(hash.slice(0, 8), 16) / 0x1_0000_0000 < input.holdOutShare ? 'test' : 'train';
      await mkdir(join(target, split, entry.folder), { recursive: true });
      // The prefix is a contract with the trainer: its max_train_per_class cap keeps every prod-* sample (lifecycle_trainer/data.py).
      await writeFile(join(target, split, entry.folder, `prod-${hash.slice(0, 16)}.png`), await encode(entry.sample));
      added[split] += 1;
      labelledBy[entry.sample.labelledBy] = (labelledBy[entry.sample.labelledBy] ?? 0) + 1;
    }
    deps.onProgress?.(`dvc add ${path}`);
    await dvc('add', '--quiet', relative(checkout.dvcRoot, target));
    const digest = parsePointer(await readFile(`${target}.dvc`, 'utf8'), `${path}.dvc`).md5.replace(/\.dir$/, '');
    deps.onProgress?.(`dvc push ${path}`);
    await dvc('push', '--quiet', relative(checkout.dvcRoot, `${target}.dvc`));
    const labelsUntil = labels.at(-1)!.labelledAt;
    const tag = `lifecycle-curated/${modelName}/${digest.slice(0, 12)}`;
    const manifest = { model: modelName, base: { path: base.path, commit: base.commit, digest: base.digest, championVersion: champion }, added, skipped, duplicates, conflicting, labelledBy, labelsUntil, holdOutShare: input.holdOutShare };
    const existing = (await git('ls-remote', '--tags', 'origin', `refs/tags/${tag}`)).stdout.trim();
    let commit: string;
    if (existing) {
      commit = existing.split(/\s+/)[0]!; // an earlier attempt published this very content
    } else {
      await writeFile(`${target}.curation.json`, `${JSON.stringify(manifest, null, 2)}\n`);
      await git('add', '-A');
      await git('commit', '--quiet', '-m', `dataset ${path}: ${modelName} v${champion}'s data + ${added.train + added.test} labelled production samples (${added.test} held out)`);
      await git('tag', tag);
      await git('push', '--quiet', 'origin', `refs/tags/${tag}`);
      commit = (await git('rev-parse', 'HEAD')).stdout.trim();
    }
    await mlflow.setRegisteredModelTag(modelName, CURATION_TAGS.at, String(input.nowMs));
    await mlflow.setRegisteredModelTag(modelName, CURATION_TAGS.until, String(labelsUntil));
    const dataset: CuratedDataset = { repo: base.repo, path, rev: tag, commit, digest };
    await mlflow.setRegisteredModelTag(modelName, CURATION_TAGS.last, JSON.stringify({ ...dataset, added, at: input.nowMs }));
    return { status: 'curated', modelName, dataset, base: manifest.base, added, skipped, duplicates, conflicting, labelledBy, labelsUntil };
  } finally {
    await checkout.cleanup();
  }
}
