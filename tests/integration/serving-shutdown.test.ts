import { controlledSessions, type SessionControl } from '../support/controlled-session';
import { testImage } from '../support/images';
import { metricTotal } from '../support/metrics';
import { useServingStack, type ServingStack } from '../support/serving-stack';

jest.setTimeout(30_000);

describe('serving: graceful shutdown', () => {
  const fixture = useServingStack('serving-shutdown');
  let stack: ServingStack;
  beforeEach(() => (stack = fixture.stack));

  it('a stopping worker finishes and answers its in-flight batch, then leaves the fleet', async () => {
    await stack.startApi();
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    // A batch of exactly the three requests (it closes when full), so "in flight" means all three, however slowly they arrive.
    const worker = await stack.startWorker({ MAX_BATCH_WAIT_MS: '5000', MAX_BATCH_SIZE: '3' }, { createSession: controlledSessions(control) });
    await worker.ready();
    control.delayMs = 500;

    const images = await Promise.all([1, 2, 3].map((i) => testImage(i)));
    const requests = images.map((img) => stack.predict(img));
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'a batch in flight');
    const stopped = worker.shutdown();
    expect((await stack.workerStatus('w1'))?.state).toBe('draining');

    const results = await Promise.all(requests);
    await stopped;
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(3);
    expect(await stack.workerStatus('w1')).toBeNull();
    expect(await stack.redis.xlen(`${stack.prefix}inference:requests`)).toBe(0);
    const consumers = (await stack.redis.xinfo('CONSUMERS', `${stack.prefix}inference:requests`, 'inference-workers')) as unknown[];
    expect(consumers).toEqual([]);
  });

  it('a closing API stops accepting but answers the requests it already has', async () => {
    const api = await stack.startApi();
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    const worker = await stack.startWorker({}, { createSession: controlledSessions(control) });
    await worker.ready();
    control.delayMs = 400;

    const inFlight = stack.predict(await testImage(5));
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'the request to reach the worker');
    const closed = api.close();
    const res = await inFlight;
    await closed;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: { version: '1' } });
    await expect(stack.predict(await testImage(6))).rejects.toThrow(); // no longer listening
  });
});
