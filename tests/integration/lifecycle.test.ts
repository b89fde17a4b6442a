import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defaultSourceDir, encodePng, LABELS, loadClass } from '../../lib/dataset/fashion-mnist';
import { MlflowClient, modelRefOf, paramsOf, tagsOf, type Run } from '../../lib/mlflow/client';
import { readModelMetadata } from '../../lib/model/metadata';
import { decodeToPixels } from '../../lib/model/preprocess';
import { pixelsToTensor } from '../../lib/model/tensor';
import { splitDigest } from '../../lib/dataset/split-digest';
import type { TrainAndPromoteInput, TrainAndPromoteResult } from '../../lib/lifecycle/types';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { ServingStack } from '../support/serving-stack';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { startLifecycleWorkers, type LifecycleWorkers } from './support/temporal-workers';
import { freePort, startVenvServer } from './support/trainer-mlflow';
import { MLFLOW_TRACKING_URI, REDIS_URL, ROOT, TEMPORAL_ADDRESS, TEMPORAL_UI_URL, uniqueId } from './support/env';
import { runCommand } from '../../lib/process/run';
import { trainStartMetadata } from '../../lib/lifecycle/start-metadata';
import { gateEvidenceOf } from '../../activities/version-story';
import { describeRegistry, describeTemporalStory } from './lifecycle-story';

/**
 * The lifecycle end to end on real services: a tiny DVC dataset version, the
 * Temporal dev server, the Python trainer, the MLflow server (tracking,
 * registry, logged models, proxied artifacts), Redis, onnxruntime and the API.
 * The README example runs twice under one workflow id with different params.
 */
describe('trainAndPromote on real services', () => {
  const id = uniqueId('lc');
  const modelName = `${id}-classifier`;
  const workflowId = `${id}-readme`;
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  let dataset: TinyDatasetRepo;
  let stack: ServingStack;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;
  let first: TrainAndPromoteResult;
  let firstRun: Run;

  const params = { epochs: 1, batch_size: 32, seed: 7, val_fraction: 0, num_threads: 1 };
  const run = (extra: TrainAndPromoteInput) => {
    // The saga's all-at-once path: this suite tests it (progressive delivery has its own tests).
    const input = { modelName, trainingTaskQueue: workers.trainingQueue, dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev }, rollout: { strategy: 'all-at-once' as const }, ...extra };
    // Started the way `lifecycle train` starts it: with its summary and search attributes.
    return client.workflow.execute<typeof trainAndPromote>('trainAndPromote', { taskQueue: workers.pipelineQueue, workflowId, args: [input], ...trainStartMetadata(input) });
  };

  beforeAll(async () => {
    dataset = await createTinyDatasetRepo({ perClassTrain: 30, perClassTest: 10 });
    stack = new ServingStack(`${id}:`);
    workers = await startLifecycleWorkers({ mlflow, redis: stack.redis, redisPrefix: stack.prefix, id });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
    await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, WORKER_ID: `${id}-w1` }, { registry: mlflow });
    await stack.startApi({ MODEL_NAME: modelName });
  });

  afterAll(async () => {
    await stack?.close();
    await workers?.close();
    await connection?.close();
    await dataset?.cleanup();
  });

  it('resolves the revision without pulling on the pipeline queue, trains, registers, promotes and deploys the first model', async () => {
    first = await run({ params });
    expect(first).toMatchObject({ promoted: true, decision: { promote: true, reason: 'no champion yet' }, deployment: { workers: [`${id}-w1`] } });
    expect((await mlflow.getModelVersionByAlias(modelName, 'champion'))?.version).toBe(first.model.version);
    // Pull once: only the training worker's cache holds the files; the pipeline worker's never did.
    expect(existsSync(join(workers.cacheDir, first.dataset.digest, 'labels.json'))).toBe(true);
    expect(existsSync(join(workers.pipelineCacheDir, first.dataset.digest))).toBe(false);
    expect(existsSync(join(workers.pipelineCacheDir, 'dvc-cache', 'files'))).toBe(false);
    expect(readdirSync(workers.pipelineCacheDir).filter((f) => f.startsWith('clone-'))).toEqual([]);
    firstRun = await mlflow.getRun(first.runId);
  });

  it('lists every resolved param of the trainer, defaults and seed included, and what was asked for', async () => {
    const runParams = paramsOf(firstRun);
    const runInfo = JSON.parse((await mlflow.downloadArtifact(`${firstRun.info.artifact_uri}/evaluation/run_info.json`)).toString()) as { params: Record<string, unknown> };
    expect(Object.keys(runParams).sort()).toEqual(Object.keys(runInfo.params).sort());
    expect(runParams).toMatchObject({ epochs: '1', seed: '7', batch_size: '32', learning_rate: String(runInfo.params.learning_rate) });
    expect(Object.keys(runParams).length).toBeGreaterThanOrEqual(10);
    expect(JSON.parse(tagsOf(firstRun)['lifecycle.requested_params']!)).toEqual(params);
  });

  it('records the lineage: git commit, trainer, dataset digests per split, normalisation, environment, per-class metrics', async () => {
    const tags = tagsOf(firstRun);
    expect(tags).toMatchObject({ 'mlflow.source.git.commit': 'test', 'lifecycle.dataset.digest': first.dataset.digest, 'lifecycle.dataset.commit': first.dataset.commit });
    expect(tags['lifecycle.dataset.test_digest']).toBe(await splitDigest(join(dataset.repo, dataset.path, 'test')));
    expect(tags['lifecycle.dataset.train_digest']).toBe(await splitDigest(join(dataset.repo, dataset.path, 'train')));
    expect(tags['lifecycle.trainer']).toMatch(/^lifecycle-cnn\//);
    expect(JSON.parse(tags['lifecycle.normalization']!)).toMatchObject({ mean: [expect.any(Number)], std: [expect.any(Number)] });
    for (const lib of ['python', 'torch', 'numpy']) expect(tags[`lifecycle.env.${lib}`]).toMatch(/^\d/);
    const contexts = (firstRun.inputs?.dataset_inputs ?? []).map((d) => [d.dataset.name, d.dataset.digest, d.tags?.find((t) => t.key === 'mlflow.data.context')?.value]);
    expect(contexts).toEqual(expect.arrayContaining([['tiny', first.dataset.digest, 'training'], ['tiny/test', tags['lifecycle.dataset.test_digest']!.slice(0, 32), 'testing']]));
    const metricKeys = (firstRun.data.metrics ?? []).map((m) => m.key);
    expect(metricKeys).toEqual(expect.arrayContaining(['test_accuracy', 'train_loss', 'training_duration_seconds', 'test_accuracy_per_class/T-shirt/top', 'test_accuracy_per_class/Ankle boot']));
    const png = await mlflow.downloadArtifact(`${firstRun.info.artifact_uri}/evaluation/confusion_matrix.png`);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    // The drift reference of the test split (what live traffic is compared with), 10 test images per class here.
    const reference = JSON.parse((await mlflow.downloadArtifact(`${firstRun.info.artifact_uri}/evaluation/drift_reference.json`)).toString()) as { n: number; sample: { rows: number }; predicted_class_distribution: Record<string, number> };
    expect(reference).toMatchObject({ n: 100, sample: { rows: 100 } });
    expect(Object.values(reference.predicted_class_distribution).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it('registers the MLflow-native logged model: the version source points to it and serving gets its ONNX file', async () => {
    const mv = await mlflow.getModelVersion(modelName, first.model.version);
    const tags = tagsOf(mv);
    expect(mv.source).toMatch(/^models:\/m-/);
    const logged = await mlflow.getLoggedModel(mv.source.replace('models:/', ''));
    expect(logged.info.source_run_id).toBe(first.runId);
    expect((await mlflow.getRun(first.runId)).outputs?.model_outputs?.map((o) => o.model_id)).toContain(logged.info.model_id);
    const onnx = await mlflow.downloadArtifact(tags['lifecycle.onnx_uri']!);
    expect(createHash('sha256').update(onnx).digest('hex')).toBe(tags['lifecycle.sha256']);
    expect(tags['lifecycle.onnx_uri']).toContain(logged.info.model_id);
    expect(tags).toMatchObject({ 'lifecycle.dataset_digest': first.dataset.digest, 'lifecycle.outcome': 'promoted' });
    expect(gateEvidenceOf(mv)).toMatchObject({ decision: 'promote', metric: 'test_accuracy', candidate: first.metrics.test_accuracy });
  });

  it('serves POST /predict from the newly registered version', async () => {
    const image = await readFile(join(ROOT, 'tests/fixtures/samples/trouser.png'));
    const res = await stack.waitFor(async () => {
      const r = await stack.predict(image);
      return r.status === 200 ? r : null;
    }, 30_000, 'a prediction');
    expect(res.body).toMatchObject({ model: { name: modelName, version: first.model.version } });
    expect(res.body.predictions).toHaveLength(5);
  });

  it('`mlflow models serve` answers for the champion and agrees with POST /predict on held-out images', async () => {
    const port = await freePort();
    const serving = await startVenvServer(['mlflow', 'models', 'serve', '-m', `models:/${modelName}@champion`, '-h', '127.0.0.1', '-p', String(port), '--env-manager', 'local'], port, '/ping', {
      cwd: ROOT,
      env: { MLFLOW_TRACKING_URI },
    });
    try {
      const ref = modelRefOf((await mlflow.getModelVersionByAlias(modelName, 'champion'))!);
      const { input, normalization, labels } = readModelMetadata(await mlflow.downloadArtifact(ref.artifactUri));
      // Held-out Fashion-MNIST images (the last ones of each class, never trained on), as PNG uploads.
      const uploads = (await Promise.all(LABELS.map((_, c) => Promise.all(loadClass(defaultSourceDir(), c).test.slice(-5).map((img) => encodePng(img.pixels)))))).flat();
      // MLflow's own serving takes the model's input tensor: the same decoding and normalisation as the workers apply.
      const tensors = await Promise.all(uploads.map(async (png) => pixelsToTensor((await decodeToPixels(png, input, { maxInputPixels: 1e6 })).data, input, normalization)));
      const nested = tensors.map((x) => [Array.from({ length: input.height }, (_, y) => Array.from(x.subarray(y * input.width, (y + 1) * input.width)))]);
      const res = await fetch(`${serving.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { input: nested } }) });
      expect(res.status).toBe(200);
      const logits = ((await res.json()) as { predictions: { logits: number[][] } }).predictions.logits;
      const fromMlflow = logits.map((row) => labels[row.indexOf(Math.max(...row))]);
      const fromApi: string[] = [];
      for (const png of uploads) fromApi.push(((await stack.predict(png)).body.predictions as Array<{ label: string }>)[0]!.label);
      expect(fromMlflow).toHaveLength(uploads.length);
      expect(fromApi).toEqual(fromMlflow);
    } finally {
      await serving.stop();
    }
  });

  it('runs the same workflow id again with other params: a new MLflow run and a new version, the first left as it was', async () => {
    const firstOnnx = await mlflow.downloadArtifact(tagsOf(await mlflow.getModelVersion(modelName, first.model.version))['lifecycle.onnx_uri']!);
    const second = await run({ params: { ...params, epochs: 2 } });
    expect(second.runId).not.toBe(first.runId);
    expect(Number(second.model.version)).toBeGreaterThan(Number(first.model.version));
    const [r1, r2] = [await mlflow.getRun(first.runId), await mlflow.getRun(second.runId)];
    expect([r1.info.status, r2.info.status]).toEqual(['FINISHED', 'FINISHED']);
    expect(r1.data.params?.find((p) => p.key === 'epochs')?.value).toBe('1');
    expect(r2.data.params?.find((p) => p.key === 'epochs')?.value).toBe('2');
    expect(r2.info.artifact_uri).not.toBe(r1.info.artifact_uri);
    const firstTags = tagsOf(await mlflow.getModelVersion(modelName, first.model.version));
    expect(createHash('sha256').update(await mlflow.downloadArtifact(firstTags['lifecycle.onnx_uri']!)).digest('hex')).toBe(firstTags['lifecycle.sha256']);
    expect(createHash('sha256').update(firstOnnx).digest('hex')).toBe(firstTags['lifecycle.sha256']);
    const champion = (await mlflow.getModelVersionByAlias(modelName, 'champion'))?.version;
    expect(champion).toBe(second.promoted ? second.model.version : first.model.version);
  });

  it('reproduces the first run from its records alone: its recorded params and dataset commit give the same held-out accuracy', async () => {
    // Only what MLflow holds: the resolved params (strings, as MLflow stores them) and the dataset tags.
    const tags = tagsOf(firstRun);
    const recorded = paramsOf(firstRun);
    const again = await client.workflow.execute<typeof trainAndPromote>('trainAndPromote', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-reproduce`,
      args: [{
        modelName,
        trainingTaskQueue: workers.trainingQueue,
        dataset: { repo: tags['lifecycle.dataset.repo']!, path: tags['lifecycle.dataset.path']!, rev: tags['lifecycle.dataset.commit']! },
        params: recorded,
        deploy: false,
      }],
    });
    expect(again.dataset.digest).toBe(first.dataset.digest);
    const [before, after] = [first.metrics.test_accuracy!, again.metrics.test_accuracy!];
    console.log(`reproduce: test_accuracy ${before} recorded, ${after} retrained from the records`);
    expect(Math.abs(after - before)).toBeLessThanOrEqual(0.005);
  });

  it('the CLI promotes a version, rolls back to the one it replaced, and lists both with the workers serving the champion', async () => {
    const cli = (...args: string[]) =>
      runCommand(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'cli/index.ts'), ...args, '--model', modelName], {
        cwd: ROOT,
        env: {
          ...process.env,
          MLFLOW_TRACKING_URI,
          TEMPORAL_ADDRESS,
          PIPELINE_TASK_QUEUE: workers.pipelineQueue,
          TRAINING_TASK_QUEUE: workers.trainingQueue,
          REDIS_URL,
          REDIS_PREFIX: stack.prefix,
        },
      });
    const champion = async () => (await mlflow.getModelVersionByAlias(modelName, 'champion'))!.version;
    const before = await champion();
    const other = (await mlflow.searchAllModelVersions(`name='${modelName}'`)).map((mv) => mv.version).find((v) => v !== before)!;

    const promoted = await cli('promote', other, '--force', '--reason', 'cli test', '--strategy', 'all-at-once');
    expect(promoted.stdout).toContain(`champion: ${modelName} v${other} (was v${before})`);
    expect(await champion()).toBe(other);
    const image = await readFile(join(ROOT, 'tests/fixtures/samples/trouser.png'));
    expect((await stack.predict(image)).body).toMatchObject({ model: { version: other } });

    const rolledBack = await cli('rollback');
    expect(rolledBack.stdout).toContain(`champion: ${modelName} v${before} (was v${other})`);
    expect(await champion()).toBe(before);
    expect((await stack.predict(image)).body).toMatchObject({ model: { version: before } });

    // The table: the champion's row names its alias and the one worker serving it.
    const listed = (await cli('models')).stdout.split('\n');
    expect(listed.find((l) => l.startsWith(`v${before} `))).toMatch(/champion.*\s1\s*$/);
    expect(listed.find((l) => l.startsWith(`v${other} `))).toBeDefined();
  });

  // Reuses the executions above (two trainings on one workflow id, a reproduction, a forced promote, a rollback).
  describeTemporalStory(() => ({ client, modelName, workflowId, uiUrl: TEMPORAL_UI_URL, temporalAddress: TEMPORAL_ADDRESS }));
  describeRegistry(() => ({ mlflow, modelName }));
});
