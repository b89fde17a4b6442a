import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelMetadata } from '../../lib/model/metadata';
import { createOrtSession, ModelRunner } from '../../lib/model/model-runner';
import { createThreadSession } from '../../lib/model/session-thread';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { useServingStack } from '../support/serving-stack';
import { makeTestModel } from '../support/test-model';

jest.setTimeout(60_000);

describe('inference on a thread of the session\'s own', () => {
  it('gives exactly the probabilities of the same session on the event loop, for batches of 1 and 32', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'session-thread-'));
    try {
      const model = makeTestModel(dir, { seed: 7 });
      const metadata = readModelMetadata(model.bytes);
      const [inline, threaded] = [new ModelRunner(await createOrtSession(model.bytes, { intraOpNumThreads: 1 }), metadata), new ModelRunner(await createThreadSession(model.bytes, { intraOpNumThreads: 1 }), metadata)];
      for (const size of [1, 32]) {
        const batch = Array.from({ length: size }, (_, i) => new Float32Array(inline.exampleSize).map((_, j) => ((i * 31 + j) % 97) / 97));
        // The thread takes over the batch buffer it is given: each runner gets its own copy.
        const expected = await inline.probabilities(batch.map((e) => e.slice()));
        expect(await threaded.probabilities(batch.map((e) => e.slice()))).toEqual(expected);
      }
      await Promise.all([inline.release(), threaded.release()]);
      // A released thread session refuses further runs instead of hanging.
      await expect(threaded.probabilities([new Float32Array(threaded.exampleSize)])).rejects.toThrow(/session thread exited/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const fixture = useServingStack('session-thread');

  it('serves through a worker whose model runs on a thread (INFERENCE_THREAD=thread), with no failed request', async () => {
    const { stack } = fixture;
    await stack.startApi();
    const worker = await stack.startWorker({ INFERENCE_THREAD: 'thread', MAX_BATCH_WAIT_MS: '2' });
    await worker.ready();
    expect(worker.server('test-classifier')?.slot.model?.runsOn).toBe('thread');
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => testImage(i)));
    const outcomes = await startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 8, total: 200 }).done;
    expect(byStatus(outcomes)).toEqual({ 200: 200 });
    const metadata = readModelMetadata(fixture.model.bytes);
    expect(outcomes.every((o) => (o.body?.predictions as unknown[]).length === Math.min(5, metadata.labels.length))).toBe(true);
  });
});
