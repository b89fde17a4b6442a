import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import type { RedisClient } from '../../lib/queue/redis-connection';
import { MlflowClient } from '../../lib/mlflow/client';
import { dataTriggerWorkflowId, scheduleId } from '../../lib/lifecycle/ids';
import type { CheckDatasetsResult, TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { runCommand } from '../../lib/process/run';
import type { checkDatasetUpdates } from '../../workflows/check-datasets';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { startLifecycleWorkers, type LifecycleWorkers } from './support/temporal-workers';
import { MLFLOW_TRACKING_URI, REDIS_URL, ROOT, TEMPORAL_ADDRESS, VENV_BIN, uniqueId } from './support/env';

/**
 * Retraining that starts itself, on real services: the user's workflow name
 * through the `temporal` CLI, the data trigger started once per new dataset
 * commit however often it runs, and its Temporal Schedule managed with the
 * lifecycle CLI (created, paused, resumed, triggered, deleted).
 */
describe('retraining that starts itself (real services)', () => {
  const id = uniqueId('trig');
  const modelName = `${id}-classifier`;
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const train = { params: { epochs: 1, batch_size: 32, seed: 5, val_fraction: 0, num_threads: 1 }, deploy: false };
  let dataset: TinyDatasetRepo;
  let redis: RedisClient;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;

  const check = (suffix: string) =>
    client.workflow.execute<typeof checkDatasetUpdates>('checkDatasetUpdates', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-check-${suffix}`,
      args: [{ modelName, repo: dataset.repo, paths: [dataset.path], rev: 'HEAD', train: { ...train, trainingTaskQueue: workers.trainingQueue } }],
    });
  const cli = (...args: string[]) =>
    runCommand(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'cli/index.ts'), ...args, '--model', modelName], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS, MLFLOW_TRACKING_URI, PIPELINE_TASK_QUEUE: workers.pipelineQueue, TRAINING_TASK_QUEUE: workers.trainingQueue },
    });

  beforeAll(async () => {
    dataset = await createTinyDatasetRepo({ perClassTrain: 30, perClassTest: 10 });
    redis = new Redis(REDIS_URL);
    workers = await startLifecycleWorkers({ mlflow, redis, redisPrefix: `${id}:`, id });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await client?.schedule.getHandle(scheduleId(modelName, 'data-trigger')).delete().catch(() => undefined);
    await workers?.close();
    await connection?.close();
    redis?.disconnect();
    await dataset?.cleanup();
  });

  it('starts the same workflow as trainAndPromote under the type name train-and-promote (temporal CLI)', async () => {
    const workflowId = `${id}-dash`;
    const input = { modelName, trainingTaskQueue: workers.trainingQueue, dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev }, ...train };
    await runCommand(join(VENV_BIN, 'temporal'), [
      'workflow', 'start', '--address', TEMPORAL_ADDRESS, '--task-queue', workers.pipelineQueue,
      '--type', 'train-and-promote', '--workflow-id', workflowId, '--input', JSON.stringify(input),
    ]);
    const result = await client.workflow.getHandle<() => Promise<TrainAndPromoteResult>>(workflowId).result();
    expect(result).toMatchObject({ promoted: true, model: { version: '1' } });
    expect((await client.workflow.getHandle(workflowId).describe()).type).toBe('train-and-promote');
  });

  it('starts trainAndPromote once for a new dataset commit, even when the check runs three times, two of them at once', async () => {
    await dataset.commitVersion({ perClassTrain: 32, perClassTest: 10, tag: 'tiny-v2' });
    const runs: CheckDatasetsResult[] = await Promise.all([check('1'), check('2')]);
    runs.push(await check('3'));
    const started = runs.flatMap((r) => r.started);
    expect(started).toHaveLength(1);
    expect(started[0]!.workflowId).toBe(dataTriggerWorkflowId(modelName, started[0]!.digest));
    const trained = await client.workflow.getHandle<() => Promise<TrainAndPromoteResult>>(started[0]!.workflowId).result();
    expect(trained.dataset.digest).toBe(started[0]!.digest);
    expect(await mlflow.searchAllModelVersions(`name='${modelName}'`)).toHaveLength(2);
    // Once trained, the registry remembers the digest: a later check starts nothing.
    expect((await check('4')).skipped.map((s) => s.reason)).toEqual([expect.stringMatching(/already has a version/)]);
  });

  it('runs the data trigger from a Temporal Schedule that the CLI creates, pauses and resumes', async () => {
    const input = JSON.stringify({ repo: dataset.repo, train: { ...train, trainingTaskQueue: workers.trainingQueue } });
    await cli('schedule', 'create', '--kind', 'data-trigger', '--every', '1h', '--paused', '--path', dataset.path, '--input', input);
    const handle = client.schedule.getHandle(scheduleId(modelName, 'data-trigger'));
    const described = await handle.describe();
    expect(described.state.paused).toBe(true);
    expect(described.action).toMatchObject({ type: 'startWorkflow', workflowType: 'checkDatasetUpdates', taskQueue: workers.pipelineQueue });
    expect((await cli('schedule', 'resume', '--kind', 'data-trigger')).stdout).toMatch(/active/);
    expect((await handle.describe()).state.paused).toBe(false);
    expect((await cli('schedule', 'pause', '--kind', 'data-trigger')).stdout).toMatch(/PAUSED/);
    expect((await handle.describe()).state.paused).toBe(true);

    await handle.trigger(); // one run now, as the interval would
    let workflowId: string | undefined;
    for (const until = Date.now() + 30_000; !workflowId && Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
      const action = (await handle.describe()).info.recentActions[0]?.action;
      workflowId = action?.type === 'startWorkflow' ? action.workflow.workflowId : undefined;
    }
    const result = await client.workflow.getHandle<typeof checkDatasetUpdates>(workflowId!).result();
    expect(result).toMatchObject({ started: [], skipped: [{ reason: expect.stringMatching(/already has a version/) as string }] });
    await cli('schedule', 'delete', '--kind', 'data-trigger');
    await expect(handle.describe()).rejects.toThrow();
  });
});
