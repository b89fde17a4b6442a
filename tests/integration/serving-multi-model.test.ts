import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RolloutLeases } from '../../lib/fleet/lease';
import { finalizeRollout, rolloutFleet } from '../../lib/fleet/rollout';
import { readModelMetadata } from '../../lib/model/metadata';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor } from '../support/test-model';

jest.setTimeout(90_000);

const SHOES = ['boot', 'sandal', 'sneaker'];

/** Two registered models with different input geometry on the same workers; promoting one never touches the other. */
describe('serving: several models side by side', () => {
  let dir: string;
  let stack: ServingStack;
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves a 28x28 grayscale and a 32x32 RGB model at once, and rolls the second out under load on the first with no failure', async () => {
    dir = mkdtempSync(join(tmpdir(), 'multi-model-'));
    const fashion = makeTestModel(dir, { seed: 21 });
    const shoes1 = makeTestModel(dir, { seed: 22, size: 32, channels: 3, labels: SHOES, mean: 0.5, std: 0.25 });
    const shoes2 = makeTestModel(dir, { seed: 23, size: 32, channels: 3, labels: SHOES, mean: 0.4, std: 0.3 });
    const refs = { fashion: refFor(fashion, '4'), shoes1: refFor(shoes1, '1', 'shoes'), shoes2: refFor(shoes2, '2', 'shoes') };
    stack = new ServingStack();
    stack.registry.add(refs.fashion, fashion.bytes).add(refs.shoes1, shoes1.bytes).add(refs.shoes2, shoes2.bytes);
    // The registry is the truth: each model's champion; the workers build the fleet's active entries from it.
    stack.registry.setAlias('champion', refs.fashion).setAlias('champion', refs.shoes1);
    const workers = [];
    for (let i = 0; i < 2; i++) workers.push(await stack.startWorker({ SERVED_MODELS: 'test-classifier,shoes' }));
    await Promise.all(workers.flatMap((w) => [w.ready('test-classifier'), w.ready('shoes')]));
    await stack.startApi();
    await stack.waitFor(async () => ((await (await fetch(`${stack.baseUrl}/models`)).json()) as { models: unknown[] }).models.length === 2, 10_000, 'both models listed');

    const listed = (await (await fetch(`${stack.baseUrl}/models`)).json()) as { models: Array<{ name: string; version: string; default: boolean; input: unknown; workers: unknown[] }> };
    expect(listed.models.map((m) => [m.name, m.version, m.default, m.input, m.workers.length])).toEqual([
      ['shoes', '1', false, { height: 32, width: 32, channels: 3, colorspace: 'rgb' }, 2],
      ['test-classifier', '4', true, { height: 28, width: 28, channels: 1, colorspace: 'grayscale' }, 2],
    ]);
    const image = await testImage(3);
    const onFashion = await stack.predict(image);
    const onShoes = await stack.predict(image, {}, '/models/shoes/predict');
    expect(onFashion.body.model).toEqual({ name: 'test-classifier', version: '4' });
    expect(onShoes.body.model).toEqual({ name: 'shoes', version: '1' });
    expect((onShoes.body.predictions as Array<{ label: string }>).map((p) => p.label).sort()).toEqual([...SHOES].sort());

    // Promote shoes v2 while the default model is under load.
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i)));
    const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 8 });
    const shoesLoad = startLoad({ url: () => `${stack.baseUrl}/models/shoes/predict`, images, concurrency: 2 });
    const leases = new RolloutLeases(stack.redis, stack.prefix);
    const deps = { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 30_000, heartbeat: () => undefined };
    await stack.waitFor(() => load.outcomes.length > 50, 10_000, 'traffic on the default model');
    const { workers: moved } = await rolloutFleet(refs.shoes2, 'shoes-v2', { timeoutMs: 30_000 }, deps);
    stack.registry.setAlias('champion', refs.shoes2);
    await finalizeRollout({ ...refs.shoes2, metadata: readModelMetadata(shoes2.bytes) }, 'shoes-v2', deps);
    await leases.release('shoes', 'shoes-v2');
    const sent = load.outcomes.length;
    await stack.waitFor(() => load.outcomes.length > sent + 50, 10_000, 'traffic after the rollout');
    const [fashionOutcomes, shoesOutcomes] = await Promise.all([load.stop(), shoesLoad.stop()]);

    expect(moved).toEqual(['w1', 'w2']);
    expect(byStatus(fashionOutcomes)).toEqual({ 200: fashionOutcomes.length });
    expect(new Set(fashionOutcomes.map((o) => JSON.stringify(o.body?.model)))).toEqual(new Set([JSON.stringify({ name: 'test-classifier', version: '4' })]));
    expect(byStatus(shoesOutcomes)).toEqual({ 200: shoesOutcomes.length });
    expect(new Set(shoesOutcomes.map((o) => (o.body?.model as { version: string }).version))).toEqual(new Set(['1', '2']));
    expect(workers.map((w) => [w.current.models['test-classifier']?.version, w.current.models.shoes?.version])).toEqual([
      ['4', '2'],
      ['4', '2'],
    ]);
  });
});
