import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RolloutLeases } from '../../lib/fleet/lease';
import { finalizeRollout, rolloutFleet } from '../../lib/fleet/rollout';
import { readModelMetadata } from '../../lib/model/metadata';
import { decodeToPixels } from '../../lib/model/preprocess';
import { pixelsToTensor } from '../../lib/model/tensor';
import { createOrtSession, ModelRunner } from '../../lib/model/model-runner';
import { testImage } from '../support/images';
import { startLoad } from '../support/load';
import { metricTotal } from '../support/metrics';
import { ServingStack, useServingStack } from '../support/serving-stack';
import { makeTestModel, refFor } from '../support/test-model';

jest.setTimeout(60_000);

describe('serving: deadlines, back-pressure, batching and batch uploads', () => {
  const fixture = useServingStack('serving-reliability');
  let stack: ServingStack;
  beforeEach(() => (stack = fixture.stack));

  it('answers 504 after the deadline, and a worker that sees the request later skips it', async () => {
    await stack.startApi({ REQUEST_TIMEOUT_MS: '300' });
    const res = await stack.predict(await testImage(1));
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ statusCode: 504, code: 'DEADLINE_EXCEEDED', error: 'Gateway Timeout' });
    expect(await stack.redis.xlen(stack.requestsKey())).toBe(1);

    const worker = await stack.startWorker();
    await stack.waitFor(async () => (await stack.redis.xlen(stack.requestsKey())) === 0, 5000, 'the expired entry to be dropped');
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_expired_total')).toBe(1);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(0);
    expect(await stack.redis.keys(`${stack.prefix}inference:replies:*`)).toEqual([]); // nothing was answered
  });

  it('answers 503 with Retry-After when the queue is full', async () => {
    await stack.startApi({ MAX_QUEUE_LENGTH: '2', MAX_BATCH_FILES: '2', REQUEST_TIMEOUT_MS: '1500', RETRY_AFTER_SECONDS: '3' });
    const waiting = [stack.predict(await testImage(1)), stack.predict(await testImage(2))];
    await stack.waitFor(async () => (await stack.redis.xlen(stack.requestsKey())) === 2, 2000, 'two queued requests');
    const res = await stack.predict(await testImage(3));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.body).toMatchObject({ statusCode: 503, code: 'QUEUE_FULL' });
    expect(await stack.redis.xlen(stack.requestsKey())).toBe(2);
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([504, 504]);
  });

  it('answers 503 NO_ACTIVE_MODEL before the default model is served, and 404 for an unknown model', async () => {
    // No champion in the registry: the fleet controller removes the model from the active versions.
    stack.registry.deleteAlias('champion', 'test-classifier');
    await stack.waitFor(async () => (await stack.redis.hlen(stack.keys.active)) === 0, 5000, 'the model to leave the fleet active versions');
    await stack.startApi();
    const res = await stack.predict(await testImage(1));
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'NO_ACTIVE_MODEL' });
    expect(res.headers.get('retry-after')).toBe('1');
    const unknown = await stack.predict(await testImage(1), {}, '/models/no-such-model/predict');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('answers a lone request at once even with a max batch wait of 2 s', async () => {
    await stack.startApi();
    await (await stack.startWorker({ MAX_BATCH_WAIT_MS: '2000' })).ready();
    await stack.predict(await testImage(1)); // warm-up: first connection, first decode
    const started = Date.now();
    const res = await stack.predict(await testImage(2));
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('POST /predict/batch answers each image in upload order, with per-image errors, from one batch', async () => {
    await stack.startApi();
    const worker = await stack.startWorker();
    await worker.ready();
    const form = new FormData();
    const parts: Array<[Buffer, string]> = [
      [await testImage(1), 'one.png'],
      [Buffer.from('not an image at all'), 'two.txt'],
      [await testImage(3, 'jpeg'), 'three.jpg'],
      [(await testImage(4)).subarray(0, 40), 'four.png'],
      [await testImage(5, 'webp'), 'five.webp'],
    ];
    for (const [bytes, name] of parts) form.append('img_file', new Blob([new Uint8Array(bytes)]), name);
    const res = await fetch(`${stack.baseUrl}/predict/batch`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ index: number; filename: string; model?: { version: string }; error?: { statusCode: number; code: string } }> };
    expect(results.map((r) => [r.index, r.filename, r.model ? 'ok' : r.error?.code])).toEqual([
      [0, 'one.png', 'ok'],
      [1, 'two.txt', 'UNSUPPORTED_IMAGE'],
      [2, 'three.jpg', 'ok'],
      [3, 'four.png', 'IMAGE_CORRUPT'],
      [4, 'five.webp', 'ok'],
    ]);
    expect(results[1]?.error?.statusCode).toBe(415);
    // Each answer is the one for its own image: the same image alone gets the same top-1.
    const alone = await stack.predict(await testImage(3, 'jpeg'));
    expect((results[2] as unknown as { predictions: unknown[] }).predictions).toEqual(alone.body.predictions);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(4);
  });
});

describe('serving: a rollout between versions with different normalisation', () => {
  let dir: string;
  let stack: ServingStack;
  afterEach(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives every request the prediction of the model that ran it, preprocessed for that model', async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-normalisation-'));
    // Same weights (seed), very different normalisation: the same pixels give different logits.
    const v1 = makeTestModel(dir, { seed: 5, mean: 0.1, std: 0.2 });
    const v2 = makeTestModel(dir, { seed: 5, mean: 0.7, std: 0.05 });
    const [ref1, ref2] = [refFor(v1, '1'), refFor(v2, '2')];
    stack = new ServingStack();
    stack.registry.add(ref1, v1.bytes).add(ref2, v2.bytes);
    await stack.setActive(ref1, v1.bytes);
    await stack.startApi();
    await Promise.all([stack.startWorker(), stack.startWorker()].map(async (w) => (await w).ready()));

    // What each version must answer for each image, computed here with onnxruntime and the version's own metadata.
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i * 3)));
    const expected = new Map<string, string[]>();
    for (const [version, model] of [['1', v1], ['2', v2]] as const) {
      const metadata = readModelMetadata(model.bytes);
      const runner = new ModelRunner(await createOrtSession(model.bytes, { intraOpNumThreads: 1 }), metadata);
      const tensors = await Promise.all(images.map(async (img) => pixelsToTensor((await decodeToPixels(img, metadata.input, { maxInputPixels: 1e6 })).data, metadata.input, metadata.normalization)));
      expected.set(version, (await runner.predict(tensors, 1)).map((p) => `${p[0]!.label}:${p[0]!.probability.toFixed(4)}`));
      await runner.release();
    }
    expect(expected.get('1')).not.toEqual(expected.get('2'));

    const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 6 });
    let outcomes;
    try {
      await stack.waitFor(() => load.outcomes.length > 30, 10_000, 'traffic on v1');
      // The rollout the promotion saga runs: lease, one worker at a time, then v2 becomes the active version.
      const leases = new RolloutLeases(stack.redis, stack.prefix);
      const deps = { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 30_000, heartbeat: () => undefined };
      await rolloutFleet(ref2, 'to-v2', { timeoutMs: 20_000 }, deps);
      stack.registry.setAlias('champion', ref2); // the saga's pivot: the alias moves before finalize
      await finalizeRollout({ ...ref2, metadata: readModelMetadata(v2.bytes) }, 'to-v2', deps);
      await leases.release('test-classifier', 'to-v2');
      const during = load.outcomes.length;
      await stack.waitFor(() => load.outcomes.length > during + 30, 10_000, 'traffic on v2');
    } finally {
      outcomes = await load.stop();
    }

    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    const versions = new Set(outcomes.map((o) => (o.body?.model as { version: string }).version));
    expect(versions).toEqual(new Set(['1', '2']));
    for (const o of outcomes) {
      const version = (o.body?.model as { version: string }).version;
      const top = (o.body?.predictions as Array<{ label: string; probability: number }>)[0]!;
      expect(`${top.label}:${top.probability.toFixed(4)}`).toBe(expected.get(version)![o.index % images.length]);
    }
  });
});
