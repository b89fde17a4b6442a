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
    const worker = await stack.startWorker({}, { createSession: controlledSessions(control) });
    await worker.ready();
    control.delayMs = 500;

    // One /predict/batch request: its three images are queued in one step, so the worker's batch holds all three.
    const form = new FormData();
    for (const i of [1, 2, 3]) form.append('img_file', new Blob([new Uint8Array(await testImage(i))], { type: 'image/png' }), `${i}.png`);
    const request = fetch(`${stack.baseUrl}/predict/batch`, { method: 'POST', body: form });
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'a batch in flight');
    const stopped = worker.shutdown();
    // The batch takes 500 ms: the fleet sees the worker draining while it is still in flight.
    await stack.waitFor(async () => (await stack.workerStatus('w1'))?.state === 'draining', 400, 'the worker to report draining');
    expect(control.affectedRuns).toBe(1);

    const res = await request;
    await stopped;
    expect(res.status).toBe(200);
    const { results } = (await res.json()) as { results: Array<{ model?: unknown; error?: unknown }> };
    expect(results.map((r) => (r.model ? 'ok' : r.error))).toEqual(['ok', 'ok', 'ok']);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(3);
    expect(await stack.workerStatus('w1')).toBeNull();
    expect(await stack.redis.xlen(stack.requestsKey())).toBe(0);
    const consumers = (await stack.redis.xinfo('CONSUMERS', stack.requestsKey(), 'inference-workers')) as unknown[];
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
