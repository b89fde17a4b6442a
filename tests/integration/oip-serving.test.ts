import { testImage } from '../support/images';
import { useServingStack } from '../support/serving-stack';

const MODEL = 'test-classifier';

/**
 * The Open Inference Protocol shares the serving path of /predict through real Redis: its deadline
 * (504), its bounded queue (503 with Retry-After), and a real worker answering a pinned served version.
 */
describe('Open Inference Protocol on the real serving path', () => {
  const fixture = useServingStack('oip-serving');

  const infer = async (baseUrl: string, path = `/v2/models/${MODEL}/infer`) => {
    const png = (await testImage(4)).toString('base64');
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [png] }], outputs: [{ name: 'label' }] }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as { error?: string; code?: string; model_version?: string; outputs?: Array<{ data: string[] }> } };
  };

  it('answers 504 in the protocol shape when no worker answers before REQUEST_TIMEOUT_MS, then 503 QUEUE_FULL at MAX_QUEUE_LENGTH', async () => {
    const { stack } = fixture;
    await stack.startApi({ REQUEST_TIMEOUT_MS: '400', SHUTDOWN_TIMEOUT_MS: '1000', MAX_QUEUE_LENGTH: '1', MAX_BATCH_FILES: '1' });
    const started = Date.now();
    const late = await infer(stack.baseUrl);
    expect([late.status, late.body.code]).toEqual([504, 'DEADLINE_EXCEEDED']);
    expect(late.body.error).toMatch(/REQUEST_TIMEOUT_MS/);
    expect(Date.now() - started).toBeLessThan(3000);
    // The expired entry is still in the stream (no worker took it): the queue is at its bound of 1.
    const full = await infer(stack.baseUrl);
    expect([full.status, full.body.code, full.headers.get('retry-after')]).toEqual([503, 'QUEUE_FULL', '1']);
  });

  it('is answered by a real worker for the served version, and refuses another version with a 404', async () => {
    const { stack } = fixture;
    await stack.startWorker();
    await stack.startApi();
    await stack.waitForApiReady();
    const pinned = await infer(stack.baseUrl, `/v2/models/${MODEL}/versions/1/infer`);
    expect(pinned.status).toBe(200);
    expect(pinned.body.model_version).toBe('1');
    expect(pinned.body.outputs?.[0]?.data).toHaveLength(1);
    const other = await infer(stack.baseUrl, `/v2/models/${MODEL}/versions/2/infer`);
    expect([other.status, other.body.code]).toEqual([404, 'VERSION_NOT_SERVED']);
    expect(other.body.error).toContain('serves version 1');
  });
});
