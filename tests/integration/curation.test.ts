import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { curateDataset, CURATION_TAGS, type CurateInput } from '../../activities/curation';
import { resolveDataset } from '../../activities/dataset';
import { inspectDatasets } from '../../activities/trigger';
import { defaultSourceDir, LABELS, loadClass } from '../../lib/dataset/fashion-mnist';
import { materialize } from '../../lib/dataset/materialize';
import { MlflowClient } from '../../lib/mlflow/client';
import { ParquetWriter } from '../../lib/payload-log/parquet-writer';
import { runCommand } from '../../lib/process/run';
import { makeTestModel } from '../support/test-model';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { registerTestModel } from './support/registry';
import { testDatasetDeps } from './support/temporal-workers';
import { MLFLOW_TRACKING_URI, uniqueId } from './support/env';

jest.setTimeout(180_000);

const count = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.png')).length;

/**
 * Curation against the real things: a champion in MLflow trained (by its run's record) on a
 * dataset version in a real git + DVC repository, a payload log and feedback in real Parquet,
 * and the activity publishing a new version there with DVC and git, which the data trigger
 * then finds as new and untrained.
 */
describe('curateDataset: a new DVC dataset version from labelled payloads (real git, DVC, Parquet, MLflow)', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('curated-classifier');
  let dir: string;
  let repo: TinyDatasetRepo;
  let deps: ReturnType<typeof testDatasetDeps>;
  const payloadDir = () => join(dir, 'payloads');
  /** 10 production images of each of classes 0-2 (held-out Fashion-MNIST pixels), their request ids and labels. */
  const production = () => {
    const source = defaultSourceDir();
    return [0, 1, 2].flatMap((c) => loadClass(source, c).test.slice(500, 510).map((img, i) => ({ id: `req-${c}-${i}`, label: LABELS[c]!, pixels: img.pixels })));
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'curation-'));
    deps = testDatasetDeps(join(dir, 'cache'));
    repo = await createTinyDatasetRepo({ perClassTrain: 20, perClassTest: 5 });
    // The champion, trained (as its run records) on the repository's tiny-v1.
    const champion = await registerTestModel(mlflow, modelName, makeTestModel(dir, { seed: 5 }), 'champion');
    const base = await resolveDataset({ repo: repo.repo, path: repo.path, rev: repo.rev }, deps);
    const runId = (await mlflow.getModelVersion(modelName, champion.version)).run_id!;
    const tags = { repo: base.repo, path: base.path, rev: base.rev, commit: base.commit, digest: base.digest, name: base.name, source: base.source };
    await mlflow.logBatch(runId, { tags: Object.fromEntries(Object.entries(tags).map(([k, v]) => [`lifecycle.dataset.${k}`, v])) });

    // What the payload logger would have written: 30 logged requests, 26 of them labelled (one with a label that is no class).
    const writer = await ParquetWriter.open();
    const now = Date.now();
    const requests = production();
    await writer.writePayloads(
      payloadDir(),
      [...requests, { id: 'repeat-same', pixels: requests[0]!.pixels }, { id: 'repeat-other-1', pixels: requests[2]!.pixels }, { id: 'repeat-other-2', pixels: requests[2]!.pixels }].map((r, i) => ({
        request_id: r.id,
        model: modelName,
        version: champion.version,
        ts: now - 60_000 + i,
        top_k: [{ label: 'Bag', probability: 0.9 }],
        latency_ms: 3,
        height: 28,
        width: 28,
        channels: 1,
        pixels: r.pixels,
      })),
    );
    const labelled: { request_id: string; label: string; by: string }[] = requests.slice(0, 25).map((r, i) => ({ request_id: r.id, label: r.label, by: i % 2 ? 'bob' : 'alice' }));
    labelled.push({ request_id: requests[25]!.id, label: 'Unicorn', by: 'bob' });
    // The same image again (production repeats inputs): once with the same label, once with another.
    labelled.push({ request_id: 'repeat-same', label: requests[0]!.label, by: 'bob' });
    labelled.push({ request_id: 'repeat-other-1', label: requests[1]!.label, by: 'bob' }, { request_id: 'repeat-other-2', label: LABELS[9], by: 'bob' });
    // A label without a logged request (not sampled): it has no pixels and cannot be used.
    labelled.push({ request_id: 'never-logged', label: LABELS[0], by: 'alice' });
    await writer.writeFeedback(
      payloadDir(),
      labelled.map((f, i) => ({ request_id: f.request_id, model: modelName, version: champion.version, ts: now - 30_000 + i, label: f.label, predicted: 'Bag', correct: f.label === 'Bag', labelled_by: f.by, predicted_at: now - 60_000 })),
    );
    writer.close();
  });
  afterAll(async () => {
    await repo?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  const input = (extra: Partial<CurateInput> = {}): CurateInput => ({ modelName, minLabels: 10, holdOutShare: 0.2, cooldownMs: 3_600_000, force: false, nowMs: Date.now(), ...extra });

  it('publishes the champion\'s data plus the labelled payloads as a tagged revision, which the data trigger sees as new', async () => {
    const result = await curateDataset(input(), { mlflow, datasets: deps, payloadDir: payloadDir() });
    if (result.status !== 'curated') throw new Error(`not curated: ${result.status} ${result.reason}`);
    // 25 labelled images, less image 2, which requests labelled two ways (left out); the three repeats add no image.
    expect(result.added.train + result.added.test).toBe(24);
    expect(result.added.test).toBeGreaterThan(0); // 20% by content hash: a few held out
    expect(result).toMatchObject({ skipped: 1, duplicates: 3, conflicting: 1, labelledBy: { alice: 12, bob: 12 } });
    expect(result.dataset).toMatchObject({ repo: repo.repo, path: `data/${modelName}-curated`, rev: expect.stringMatching(/^lifecycle-curated\//) as string });

    // The tag is in the dataset repository, with the manifest beside the pointer.
    const tags = (await runCommand('git', ['tag', '--list', 'lifecycle-curated/*'], { cwd: repo.repo })).stdout.trim();
    expect(tags).toBe(result.dataset.rev);
    const manifest = JSON.parse((await runCommand('git', ['show', `${result.dataset.rev}:${result.dataset.path}.curation.json`], { cwd: repo.repo })).stdout) as Record<string, unknown>;
    expect(manifest).toMatchObject({ model: modelName, added: result.added, duplicates: 3, conflicting: 1, labelledBy: { alice: 12, bob: 12 } });

    // Pulled back through DVC like any version: the old splits whole, the new samples in their class folders, pixels intact.
    const pulled = await materialize({ repo: repo.repo, path: result.dataset.path, rev: result.dataset.rev }, deps);
    expect(pulled.digest).toBe(result.dataset.digest);
    expect(count(join(pulled.dir, 'train'))).toBe(10 * 20 + result.added.train);
    expect(count(join(pulled.dir, 'test'))).toBe(10 * 5 + result.added.test);
    const prod = readdirSync(join(pulled.dir, 'train', '01')).filter((f) => f.startsWith('prod-'));
    expect(prod.length).toBeGreaterThan(0);
    const png = await readFile(join(pulled.dir, 'train', '01', prod[0]!));
    expect(png[25]).toBe(0); // PNG colour type 0: 8-bit grayscale, like the dataset's own images
    const { data, info } = await sharp(png).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 28, height: 28, channels: 1 });
    expect(production().some((p) => p.label === LABELS[1] && Buffer.compare(p.pixels, data) === 0)).toBe(true);

    // The data trigger on that revision: complete on the remote, not trained yet, so it would start trainAndPromote.
    const [check] = await inspectDatasets(mlflow, deps, { modelName, repo: repo.repo, paths: [result.dataset.path], rev: result.dataset.rev });
    expect(check).toMatchObject({ complete: true, alreadyTrained: false, dataset: { digest: result.dataset.digest } });
    expect(await mlflow.registeredModelTag(modelName, CURATION_TAGS.until)).toBe(String(result.labelsUntil));
  });

  it('builds nothing within the cooldown, nor without new labels since the last curation', async () => {
    const cooled = await curateDataset(input(), { mlflow, datasets: deps, payloadDir: payloadDir() });
    expect(cooled).toMatchObject({ status: 'cooldown' });
    const none = await curateDataset(input({ force: true }), { mlflow, datasets: deps, payloadDir: payloadDir() });
    expect(none).toMatchObject({ status: 'not_enough_labels', labels: 0 });
  });
});
