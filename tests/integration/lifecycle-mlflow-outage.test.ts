import { Client, Connection } from '@temporalio/client';
import { readActiveModel } from '../../lib/fleet/active-models';
import { RolloutLeases } from '../../lib/fleet/lease';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { MlflowClient } from '../../lib/mlflow/client';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { ServingStack } from '../support/serving-stack';
import { createTinyDatasetRepo, type TinyDatasetRepo } from './support/dvc-repo';
import { startOwnMlflowServer, type OwnMlflowServer } from './support/mlflow-server';
import { startLifecycleWorkers, type LifecycleWorkers } from './support/temporal-workers';
import { TEMPORAL_ADDRESS, uniqueId } from './support/env';

// The pipeline's rollout lease lives LEASE_TTL_MS unless renewed: the outage lasts well past it.
const LEASE_TTL_MS = 10_000;
const OUTAGE_MS = 25_000;

/**
 * The MLflow server stopped for 25 s (2.5 lease TTLs) right after the rollout: the alias move
 * keeps retrying (a generous schedule-to-close, not a few attempts), the
 * workflow completes when MLflow is back, and the registry's champion, the
 * fleet's active version and every worker agree.
 */
describe('promotion through an MLflow outage right after the rollout (real services)', () => {
  const id = uniqueId('outage');
  const modelName = `${id}-classifier`;
  let server: OwnMlflowServer;
  let mlflow: MlflowClient;
  let dataset: TinyDatasetRepo;
  let stack: ServingStack;
  let workers: LifecycleWorkers;
  let connection: Connection;
  let client: Client;
  let outage: Promise<void> | undefined;
  let down: { stoppedAt: number; restartedAt: number } | undefined;
  const leaseSamples: Array<string | null> = [];

  beforeAll(async () => {
    [server, dataset] = await Promise.all([startOwnMlflowServer(), createTinyDatasetRepo({ perClassTrain: 30, perClassTest: 10 })]);
    mlflow = new MlflowClient({ trackingUri: server.uri, timeoutMs: 5000 });
    stack = new ServingStack(`${id}:`);
    workers = await startLifecycleWorkers({
      mlflow,
      redis: stack.redis,
      redisPrefix: stack.prefix,
      id,
      leaseTtlMs: LEASE_TTL_MS,
      // Fault injection: the moment the fleet serves the new version, MLflow goes away for OUTAGE_MS.
      wrapPipeline: (activities) => ({
        ...activities,
        deployModel: async (input) => {
          const deployed = await activities.deployModel(input);
          outage ??= (async () => {
            await server.stop();
            const stoppedAt = Date.now();
            // The rollout lease must stay held through the outage (the alias move renews it), or the
            // workers would take the rollout for over and converge back to what the fleet served before.
            const leases = new RolloutLeases(stack.redis, stack.prefix);
            while (Date.now() - stoppedAt < OUTAGE_MS) {
              leaseSamples.push((await leases.holder(modelName))?.deploymentId ?? null);
              await new Promise((r) => setTimeout(r, 1000));
            }
            await server.start();
            down = { stoppedAt, restartedAt: Date.now() };
          })();
          return deployed;
        },
      }),
    });
    await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, WORKER_ID: `${id}-w1` }, { registry: mlflow });
    await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName, WORKER_ID: `${id}-w2` }, { registry: mlflow });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await outage?.catch(() => undefined);
    await stack?.close();
    await workers?.close();
    await connection?.close();
    await dataset?.cleanup();
    await server?.close();
  });

  it('completes the promotion once MLflow is back, with alias, active version and workers agreeing', async () => {
    const handle = await client.workflow.start<typeof trainAndPromote>('trainAndPromote', {
      taskQueue: workers.pipelineQueue,
      workflowId: `${id}-train`,
      args: [
        {
          modelName,
          trainingTaskQueue: workers.trainingQueue,
          dataset: { repo: dataset.repo, path: dataset.path, rev: dataset.rev },
          params: { epochs: 1, batch_size: 32, seed: 9, val_fraction: 0, num_threads: 1 },
          timeouts: { maxRetryInterval: '5 seconds' },
          rollout: { strategy: 'all-at-once' },
        },
      ],
    });
    const result = await handle.result();
    await outage;
    expect(down).toBeDefined();
    expect(result).toMatchObject({ promoted: true, deployment: { workers: [`${id}-w1`, `${id}-w2`] } });
    // It waited the outage out instead of failing (and rolling back) while MLflow was down: one alias move,
    // holding the rollout lease the whole time, and the workflow closed only after MLflow came back.
    expect((await handle.describe()).closeTime!.getTime()).toBeGreaterThan(down!.restartedAt);
    const events = (await handle.fetchHistory()).events ?? [];
    const pivots = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'moveChampionAlias');
    expect(pivots).toHaveLength(1);
    expect(leaseSamples.length).toBeGreaterThanOrEqual(15);
    expect(new Set(leaseSamples)).toEqual(new Set([result.deployment!.deploymentId]));

    expect((await mlflow.getModelVersionByAlias(modelName, 'champion'))?.version).toBe(result.model.version);
    expect((await readActiveModel(stack.redis, stack.prefix, modelName))?.version).toBe(result.model.version);
    const served = (await listWorkerStatuses(stack.redis, stack.prefix)).map((w) => w.models[modelName]);
    expect(served).toEqual([expect.objectContaining({ version: result.model.version, state: 'ready' }), expect.objectContaining({ version: result.model.version, state: 'ready' })]);
    expect((await mlflow.getRun(result.runId)).info.status).toBe('FINISHED');
  });
});
