import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { MlflowClient, tagsOf } from '../../lib/mlflow/client';
import { runCommand } from '../../lib/process/run';
import type { TrainingBeat } from '../../lib/lifecycle/progress';
import { snapshot } from '../../lib/temporal/watch-workflow';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { spawnTrainingWorker, startLifecycleWorkers, startTrainingWorker, type LifecycleWorkers } from './support/temporal-workers';
import { MLFLOW_TRACKING_URI, REDIS_URL, ROOT, TEMPORAL_ADDRESS, VENV_BIN, uniqueId } from './support/env';

/**
 * A training worker process killed with SIGKILL in the middle of an epoch after the second:
 * Temporal notices the silence (short heartbeat timeout), retries the attempt
 * on another worker, which fetches the last recorded checkpoint from the run's
 * artifacts (the dead machine's files are gone) and resumes. One version is
 * registered, and it matches an uninterrupted run with the same seed.
 */
describe('resumable training (SIGKILL of a real training worker process)', () => {
  const id = uniqueId('resume');
  const modelName = `${id}-classifier`;
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  // The killed worker heartbeats every 200 ms (HEARTBEAT_THROTTLE_MS), so the test sees each epoch's
  // checkpoint in time however fast the machine trains; 5 epochs leave room after the second.
  const params = { epochs: 5, batch_size: 16, seed: 11, val_fraction: 0, num_threads: 1, progress_every: 5 };
  let dataset: TinyDatasetRepo;
  let redis: RedisClient;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeAll(async () => {
    dataset = await createTinyDatasetRepo({ perClassTrain: 300, perClassTest: 20 });
    redis = new Redis(REDIS_URL);
    workers = await startLifecycleWorkers({ mlflow, redis, redisPrefix: `${id}:`, id, training: false });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await workers?.close();
    await connection?.close();
    redis?.disconnect();
    await dataset?.cleanup();
  });

  it('resumes from the last checkpoint on another worker, registers one version, and matches an uninterrupted run', async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'lifecycle-killed-worker-'));
    const first = spawnTrainingWorker({
      TASK_QUEUE: workers.trainingQueue,
      MLFLOW_TRACKING_URI,
      REDIS_URL,
      DATA_CACHE_DIR: join(workDir, 'data'),
      TRAINING_WORK_DIR: join(workDir, 'training'),
      HEARTBEAT_THROTTLE_MS: '200',
    });
    cleanups.push(() => first.kill(), () => rmSync(workDir, { recursive: true, force: true }));
    const handle = await client.workflow.start<typeof trainAndPromote>('trainAndPromote', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-train`,
      args: [
        {
          modelName,
          trainingTaskQueue: workers.trainingQueue,
          dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev },
          params,
          deploy: false,
          timeouts: { trainingHeartbeat: '5 seconds' },
        },
      ],
    });

    // Wait until epoch 2's checkpoint is recorded and epoch 3 is under way, then kill the machine.
    let beat: TrainingBeat | undefined;
    const seen: string[] = [];
    for (;;) {
      const snap = await snapshot(handle);
      beat = snap.pending.find((p) => p.type === 'trainModel')?.details as TrainingBeat | undefined;
      if (beat) seen.push(`${beat.phase}:${beat.epoch ?? '-'}/${beat.checkpoint?.epoch ?? '-'}`);
      // Epoch 2's checkpoint is uploaded and a later epoch is under way: the moment to pull the plug.
      if (beat?.checkpoint && beat.checkpoint.epoch >= 2 && beat.phase === 'training' && (beat.epoch ?? 0) > beat.checkpoint.epoch) break;
      const stage = snap.progress?.stages.find((s) => s.name === 'training')?.state;
      if (snap.status !== 'RUNNING' || (stage && stage !== 'running' && stage !== 'pending')) {
        throw new Error(`training ended before it could be killed (saw ${seen.slice(-20).join(' ')}); worker log:\n${first.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const killedIn = beat.epoch ?? 0;
    first.kill();
    await first.exited;
    rmSync(workDir, { recursive: true, force: true }); // the dead machine's disk is gone too
    const second = await startTrainingWorker(mlflow, workers.trainingQueue);
    cleanups.push(() => second.close());

    const result = await handle.result();
    const run = await mlflow.getRun(result.runId);
    const tags = tagsOf(run);
    expect(tags['lifecycle.training.attempt']).toBe('2');
    expect(tags['lifecycle.training.resumed_from_epoch']).toBe(String(killedIn - 1));
    expect(await mlflow.searchAllModelVersions(`name='${modelName}'`)).toHaveLength(1);
    const experiment = run.info.experiment_id;
    expect(await mlflow.searchRuns([experiment], `tags.\`lifecycle.workflow_id\` = '${id}-train'`)).toHaveLength(1);

    // The same params and data without interruption, straight through the trainer.
    const out = mkdtempSync(join(tmpdir(), 'lifecycle-uninterrupted-'));
    cleanups.push(() => rmSync(out, { recursive: true, force: true }));
    writeFileSync(join(out, 'params.json'), JSON.stringify(params));
    await runCommand(join(VENV_BIN, 'python'), [join(ROOT, 'trainer/train.py'), '--data', join(dataset.repo, dataset.path), '--params', join(out, 'params.json'), '--out', join(out, 'model')]);
    const uninterrupted = JSON.parse(readFileSync(join(out, 'model/metrics.json'), 'utf8')) as { test_accuracy: number; test_loss: number };
    console.log(`resume: killed in epoch ${killedIn}; test_accuracy resumed ${result.metrics.test_accuracy} vs uninterrupted ${uninterrupted.test_accuracy}`);
    expect(Math.abs(result.metrics.test_accuracy! - uninterrupted.test_accuracy)).toBeLessThanOrEqual(0.005);
    expect(result.metrics.test_loss).toBeCloseTo(uninterrupted.test_loss, 5);
  });
});
