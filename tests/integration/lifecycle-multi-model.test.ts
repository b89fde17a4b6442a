import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MlflowClient } from '../../lib/mlflow/client';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { createShapesRepo, type ShapesRepo } from './support/shapes-repo';
import { startLifecycleWorkers, type LifecycleWorkers } from './support/temporal-workers';
import { RGB_CLASSES } from './support/trainer-datasets';
import { MLFLOW_TRACKING_URI, TEMPORAL_ADDRESS, uniqueId } from './support/env';

/**
 * Two registered models served side by side on the real stack: the default
 * (28x28 grayscale) model under load while a second, RGB 32x32 model is
 * trained by the real lifecycle on a dataset the test makes, registered,
 * gated and rolled out to the same workers. The first never notices.
 */
describe('a second model trained, promoted and served beside the default one', () => {
  const id = uniqueId('mm');
  const defaultModel = `${id}-fashion`;
  const shapesModel = `${id}-shapes`;
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  let dir: string;
  let shapes: ShapesRepo;
  let stack: ServingStack;
  let workers: LifecycleWorkers;
  let connection: Connection;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'multi-model-'));
    shapes = await createShapesRepo({ classes: RGB_CLASSES, channels: 3, size: 32, perClassTrain: 40, perClassTest: 12 });
    await registerTestModel(mlflow, defaultModel, makeTestModel(dir, { seed: 31 }), 'champion');
    stack = new ServingStack(`${id}:`);
    workers = await startLifecycleWorkers({ mlflow, redis: stack.redis, redisPrefix: stack.prefix, id });
    connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
    for (let i = 0; i < 2; i++) {
      await stack.startWorker({ MODEL_NAME: defaultModel, SERVED_MODELS: `${defaultModel},${shapesModel}` }, { registry: mlflow });
    }
    await Promise.all(stack.workers.map((w) => w.ready(defaultModel)));
    await stack.startApi({ MODEL_NAME: defaultModel });
    // The workers may serve the champion (loaded from the registry) a moment before the fleet controller has
    // recorded it as the active version the API routes by.
    await stack.waitForApiReady();
  });

  afterAll(async () => {
    await stack?.close();
    await workers?.close();
    await connection?.close();
    await shapes?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('promotes the RGB model under load on the default one: no failed request, each route answers with its own model', async () => {
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i)));
    const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4 });
    let result;
    try {
      result = await new Client({ connection }).workflow.execute<typeof trainAndPromote>('trainAndPromote', {
        taskQueue: workers.pipelineQueue,
        workflowId: `${id}-shapes`,
        args: [
          {
            modelName: shapesModel,
            trainingTaskQueue: workers.trainingQueue,
            dataset: { repo: shapes.repo, path: shapes.path, rev: shapes.rev },
            params: { image_size: 32, channels: 3, epochs: 3, batch_size: 16, seed: 3, val_fraction: 0, num_threads: 1 },
            rollout: { strategy: 'all-at-once' },
          },
        ],
      });
    } finally {
      await new Promise((r) => setTimeout(r, 1000)); // traffic after the rollout too
      await load.stop();
    }

    expect(result.decision.promote).toBe(true);
    expect(result.deployment?.workers.sort()).toEqual(['w1', 'w2']);
    // The default model: every request answered by its own only version, throughout.
    expect(load.outcomes.length).toBeGreaterThan(20);
    expect(byStatus(load.outcomes)).toEqual({ 200: load.outcomes.length });
    expect(new Set(load.outcomes.map((o) => JSON.stringify(o.body?.model)))).toEqual(new Set([JSON.stringify({ name: defaultModel, version: '1' })]));
    // The second model: its own route, its own labels, its new version.
    const red = await testImage(5);
    const onShapes = await stack.predict(red, {}, `/models/${shapesModel}/predict`);
    expect(onShapes.status).toBe(200);
    expect(onShapes.body.model).toEqual({ name: shapesModel, version: result.model.version });
    expect((onShapes.body.predictions as Array<{ label: string }>).map((p) => p.label).sort()).toEqual(RGB_CLASSES.map((c) => c.label).sort());
    const listed = (await (await fetch(`${stack.baseUrl}/models`)).json()) as { models: Array<{ name: string; input: { channels: number; height: number } }> };
    expect(listed.models.map((m) => [m.name, m.input.channels, m.input.height]).sort()).toEqual([
      [defaultModel, 1, 28],
      [shapesModel, 3, 32],
    ]);
  });
});
