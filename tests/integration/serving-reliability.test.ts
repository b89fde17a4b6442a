import { controlledSessions, type SessionControl } from '../support/controlled-session';
import { testImage } from '../support/images';
import { metricTotal } from '../support/metrics';
import { useServingStack, type ServingStack } from '../support/serving-stack';

jest.setTimeout(30_000);

describe('serving: at-least-once, deadlines and back-pressure', () => {
  const fixture = useServingStack('serving-reliability');
  let stack: ServingStack;
  const requestsKey = () => `${stack.prefix}inference:requests`;
  beforeEach(() => (stack = fixture.stack));

  it('hands the batch of a worker killed mid-batch to another worker, and the request still succeeds', async () => {
    await stack.startApi();
    const control: SessionControl = { delayMs: 0, hang: false, affectedRuns: 0 };
    const doomed = await stack.startWorker({ CLAIM_IDLE_MS: '300' }, { createSession: controlledSessions(control) });
    await doomed.ready();
    control.hang = true; // the next batch starts but never finishes

    const pending = stack.predict(await testImage(2));
    await stack.waitFor(() => control.affectedRuns > 0, 5000, 'the first worker to start the batch');
    const [count, , , consumers] = (await stack.redis.xpending(requestsKey(), 'inference-workers')) as [number, string, string, [string, string][]];
    expect(count).toBe(1);
    expect(consumers).toEqual([['w1', '1']]);
    await doomed.abort(); // crash: no reply, no ack

    const rescuer = await stack.startWorker({ CLAIM_IDLE_MS: '300' });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: { version: '1' } });
    expect(await metricTotal(rescuer.registry, 'lifecycle_inference_requests_processed_total')).toBe(1);
    expect(await metricTotal(doomed.registry, 'lifecycle_inference_requests_processed_total')).toBe(0);
    await stack.waitFor(async () => (await stack.redis.xlen(requestsKey())) === 0, 2000, 'the entry to be deleted');
  });

  it('answers 504 after the deadline, and a worker that sees the request later skips it', async () => {
    await stack.startApi({ REQUEST_TIMEOUT_MS: '300' });
    const started = Date.now();
    const res = await stack.predict(await testImage(1));
    expect(res.status).toBe(504);
    expect(res.body).toMatchObject({ statusCode: 504, code: 'DEADLINE_EXCEEDED', error: 'Gateway Timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(await stack.redis.xlen(requestsKey())).toBe(1);

    const worker = await stack.startWorker();
    await stack.waitFor(async () => (await stack.redis.xlen(requestsKey())) === 0, 5000, 'the expired entry to be dropped');
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_expired_total')).toBe(1);
    expect(await metricTotal(worker.registry, 'lifecycle_inference_requests_processed_total')).toBe(0);
    const replies = await stack.redis.keys(`${stack.prefix}inference:replies:*`);
    expect(replies).toEqual([]); // nothing was answered
  });

  it('answers 503 with Retry-After when the queue is full', async () => {
    await stack.startApi({ MAX_QUEUE_LENGTH: '2', REQUEST_TIMEOUT_MS: '1500', RETRY_AFTER_SECONDS: '3' });
    const waiting = [stack.predict(await testImage(1)), stack.predict(await testImage(2))];
    await stack.waitFor(async () => (await stack.redis.xlen(requestsKey())) === 2, 2000, 'two queued requests');
    const res = await stack.predict(await testImage(3));
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('3');
    expect(res.body).toMatchObject({ statusCode: 503, code: 'QUEUE_FULL' });
    expect(await stack.redis.xlen(requestsKey())).toBe(2);
    expect((await Promise.all(waiting)).map((r) => r.status)).toEqual([504, 504]);
  });

  it('answers 503 NO_ACTIVE_MODEL before any model is active', async () => {
    await stack.redis.del(stack.keys.active);
    await stack.startApi();
    const res = await stack.predict(await testImage(1));
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ code: 'NO_ACTIVE_MODEL' });
    expect(res.headers.get('retry-after')).toBe('1');
  });
});
