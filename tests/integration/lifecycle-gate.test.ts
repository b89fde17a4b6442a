import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { evaluateVersion } from '../../activities/evaluation';
import { EVAL_METRIC } from '../../activities/evaluation-keys';
import { gateEvidenceOf } from '../../activities/version-story';
import { MlflowClient, tagsOf } from '../../lib/mlflow/client';
import type { TrainAndPromoteResult } from '../../lib/lifecycle/types';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { startLifecycleWorkers, testDatasetDeps, type LifecycleWorkers } from './support/temporal-workers';
import { MLFLOW_TRACKING_URI, REDIS_URL, TEMPORAL_ADDRESS, uniqueId } from './support/env';

/**
 * The fair promotion gate on real services: a candidate trained on a dataset
 * version with another held-out split makes the gate measure the champion on
 * the candidate's split (onnxruntime, serving preprocessing) before deciding,
 * and the evidence on the version names that split.
 */
describe('fair promotion gate (real services)', () => {
  const id = uniqueId('gate');
  const modelName = `${id}-classifier`;
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const params = { epochs: 1, batch_size: 32, seed: 3, val_fraction: 0, num_threads: 1 };
  let dataset: TinyDatasetRepo;
  let redis: RedisClient;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;
  let champion: TrainAndPromoteResult;

  const train = (rev: string, suffix: string) =>
    client.workflow.execute<typeof trainAndPromote>('trainAndPromote', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-${suffix}`,
      args: [{ modelName, trainingTaskQueue: workers.trainingQueue, dataset: { repo: dataset.repo, path: dataset.path, rev }, params, deploy: false }],
    });

  beforeAll(async () => {
    dataset = await createTinyDatasetRepo({ perClassTrain: 30, perClassTest: 10 });
    redis = new Redis(REDIS_URL);
    workers = await startLifecycleWorkers({ mlflow, redis, redisPrefix: `${id}:`, id });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
    champion = await train(dataset.rev, 'champion');
  });

  afterAll(async () => {
    await workers?.close();
    await connection?.close();
    redis?.disconnect();
    await dataset?.cleanup();
  });

  it('measures a version on its own split like its trainer did (onnxruntime and serving preprocessing agree with torch)', async () => {
    const mv = tagsOf(await mlflow.getModelVersion(modelName, champion.model.version));
    const measured = await evaluateVersion(
      { model: champion.model, dataset: { ...champion.dataset, rev: champion.dataset.commit }, splitDigest: mv['lifecycle.dataset.test_digest']! },
      { mlflow, datasets: testDatasetDeps(join(workers.cacheDir)), heartbeat: () => undefined },
    );
    expect(measured.samples).toBe(100);
    expect(Math.abs(measured.test_accuracy - champion.metrics.test_accuracy!)).toBeLessThanOrEqual(0.011);
  });

  it('re-evaluates the champion on a candidate whose test split differs, and records the split both numbers come from', async () => {
    const tag = await dataset.commitVersion({ perClassTrain: 30, perClassTest: 12, tag: 'tiny-v2' });
    const candidate = await train(tag, 'candidate');
    const candidateVersion = await mlflow.getModelVersion(modelName, candidate.model.version);
    const candidateTags = tagsOf(candidateVersion);
    const split = candidateTags['lifecycle.dataset.test_digest']!;
    const championVersion = await mlflow.getModelVersion(modelName, champion.model.version);
    const championTags = tagsOf(championVersion);
    expect(split).not.toBe(championTags['lifecycle.dataset.test_digest']);
    expect(candidate.decision).toMatchObject({ championVersion: champion.model.version, championSource: 'evaluated', splitDigest: split });
    const evidence = gateEvidenceOf(candidateVersion);
    expect(evidence).toMatchObject({ splitDigest: split, championSource: 'evaluated', championVersion: champion.model.version });
    // The champion's measurement on the candidate's split is a metric of the champion's run.
    const championRun = await mlflow.getRun(championVersion.run_id!);
    const evaluated = championRun.data.metrics?.find((m) => m.key === EVAL_METRIC.key(split))?.value ?? NaN;
    expect(evaluated).toBeGreaterThanOrEqual(0);
    expect(candidate.decision.champion).toBe(evaluated);
    expect(evidence?.champion).toBe(evaluated);
  });
});
