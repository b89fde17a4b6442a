import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Redis } from 'ioredis';
import { MlflowClient, tagsOf } from '../../lib/mlflow/client';
import { createLogger } from '../../lib/logger';
import { createRedisConnection } from '../../lib/queue/redis-connection';
import { loadApiConfig } from '../../api/config';
import { startApi, type RunningApi } from '../../api/server';
import { loadInferenceWorkerConfig } from '../../workers/inference/config';
import { InferenceWorker } from '../../workers/inference/worker';
import type { TrainAndPromoteInput, TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { startLifecycleWorkers, type LifecycleWorkers } from './support/temporal-workers';
import { MLFLOW_TRACKING_URI, REDIS_URL, ROOT, TEMPORAL_ADDRESS, uniqueId } from './support/env';

/**
 * The walking skeleton end to end on real services: a tiny DVC dataset version,
 * the Temporal dev server, the Python trainer, the MLflow server (tracking,
 * registry, proxied artifacts), Redis, onnxruntime, and the Fastify API.
 */
describe('trainAndPromote on real services', () => {
  const id = uniqueId('lc');
  const prefix = `${id}:`;
  const modelName = `${id}-classifier`;
  const logger = createLogger('test', 'warn');
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  let dataset: TinyDatasetRepo;
  let redis: Redis;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;
  let inference: InferenceWorker;
  let api: RunningApi;
  let first: TrainAndPromoteResult;

  const env = { REDIS_URL, REDIS_PREFIX: prefix, MLFLOW_TRACKING_URI, MODEL_NAME: modelName, LOG_LEVEL: 'warn' };
  const run = (input: TrainAndPromoteInput, suffix: string) =>
    client.workflow.execute('trainAndPromote', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-${suffix}`,
      args: [{ modelName, trainingTaskQueue: workers.trainingQueue, ...input }],
    }) as Promise<TrainAndPromoteResult>;
  const params = { epochs: 1, batch_size: 32, seed: 7, val_fraction: 0, num_threads: 1 };

  beforeAll(async () => {
    dataset = await createTinyDatasetRepo({ perClassTrain: 30, perClassTest: 10 });
    redis = createRedisConnection(REDIS_URL, { name: 'lifecycle-test', logger });
    workers = await startLifecycleWorkers({ mlflow, redis, redisPrefix: prefix, id });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
    inference = await InferenceWorker.start({
      config: loadInferenceWorkerConfig({ ...env, WORKER_ID: `${id}-w1`, MODEL_CACHE_DIR: join(ROOT, '.lifecycle/test/models') }),
      registry: mlflow,
      serveMetrics: false,
      logger,
    });
    api = await startApi(loadApiConfig({ ...env, ACTIVE_MODEL_REFRESH_MS: '100' }), logger, { listen: false });
  });

  afterAll(async () => {
    await api?.close();
    await inference?.shutdown();
    await workers?.close();
    await connection?.close();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await dataset?.cleanup();
  });

  it('pulls the DVC version, trains, logs the run, registers, promotes the first model and deploys it', async () => {
    first = await run({ dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev }, params }, 'first');
    expect(first.decision).toMatchObject({ promote: true, reason: 'no champion yet' });
    expect(first.deployment?.workers).toEqual([`${id}-w1`]);
    expect(first.dataset.rev).toBe(dataset.rev);

    const champion = await mlflow.getModelVersionByAlias(modelName, 'champion');
    expect(champion?.version).toBe(first.model.version);
  });

  it('records params, per-epoch metrics, the DVC dataset input and the git commit on the MLflow run', async () => {
    const run = await mlflow.getRun(first.runId);
    const runParams = Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
    expect(runParams).toMatchObject({ epochs: '1', seed: '7', batch_size: '32' });
    const metricKeys = (run.data.metrics ?? []).map((m) => m.key);
    expect(metricKeys).toEqual(expect.arrayContaining(['test_accuracy', 'train_loss', 'training_duration_seconds']));
    const input = run.inputs?.dataset_inputs?.[0]?.dataset;
    expect(input).toMatchObject({ name: 'tiny', digest: first.dataset.digest, source_type: 'dvc' });
    expect(tagsOf(run)['mlflow.source.git.commit']).toBe('test');
    expect(run.info.status).toBe('FINISHED');
  });

  it('stores the ONNX file through the proxied artifact store with the sha256 the registry records', async () => {
    const mv = await mlflow.getModelVersion(modelName, first.model.version);
    const tags = tagsOf(mv);
    const onnx = await mlflow.downloadArtifact(tags['lifecycle.onnx_uri']!);
    expect(createHash('sha256').update(onnx).digest('hex')).toBe(tags['lifecycle.sha256']);
    expect(tags['lifecycle.dataset_digest']).toBe(first.dataset.digest);
    expect(tags['lifecycle.gate.decision']).toBe('promote');
    const png = await mlflow.downloadArtifact(`${(await mlflow.getRun(first.runId)).info.artifact_uri}/evaluation/confusion_matrix.png`);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
  });

  it('serves POST /predict from the newly registered version', async () => {
    await waitFor(async () => (await api.app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200);
    const image = await readFile(join(ROOT, 'tests/fixtures/samples/trouser.png'));
    const boundary = '----lifecycle';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="img_file"; filename="trouser.png"\r\nContent-Type: image/png\r\n\r\n`),
      image,
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const res = await api.app.inject({ method: 'POST', url: '/predict', payload: body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } });
    expect(res.statusCode).toBe(200);
    const json = res.json<{ model: { name: string; version: string }; predictions: { label: string; probability: number }[] }>();
    expect(json.model).toEqual({ name: modelName, version: first.model.version });
    expect(json.predictions).toHaveLength(5);
  });

  it('does not promote a retrain that is no better than the champion', async () => {
    // Same data, same params, same seed: the trainer reproduces the metric, so the gate must reject the tie.
    const second = await run({ dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev }, params }, 'second');
    expect(second.metrics.test_accuracy).toBeCloseTo(first.metrics.test_accuracy!, 6);
    expect(second.decision).toMatchObject({ promote: false, championVersion: first.model.version });
    expect(second.deployment).toBeNull();
    expect((await mlflow.getModelVersionByAlias(modelName, 'champion'))?.version).toBe(first.model.version);
    expect(tagsOf(await mlflow.getModelVersion(modelName, second.model.version))['lifecycle.gate.decision']).toBe('reject');
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
