import { MlflowClient, MlflowError, authFromEnv, modelRefOf } from './client';

function fakeFetch(status: number, body: unknown): typeof fetch {
  return () => Promise.resolve(new Response(typeof body === 'string' ? body : JSON.stringify(body), { status }));
}

describe('MlflowClient (unit)', () => {
  it('maps proxied artifact URIs to the tracking server', () => {
    const c = new MlflowClient({ trackingUri: 'http://127.0.0.1:5000/' });
    expect(c.artifactUrl('mlflow-artifacts:/1/abc/artifacts/model/model.onnx')).toBe(
      'http://127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model/model.onnx',
    );
    expect(() => c.artifactUrl('s3://bucket/x')).toThrow(MlflowError);
  });

  it('keeps MLflow error codes and classifies them', async () => {
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: fakeFetch(404, { error_code: 'RESOURCE_DOES_NOT_EXIST', message: 'nope' }) });
    await expect(c.getRun('r')).rejects.toMatchObject({ status: 404, errorCode: 'RESOURCE_DOES_NOT_EXIST', notFound: true, transient: false });
  });

  it('treats 5xx as transient', async () => {
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: fakeFetch(503, 'busy') });
    await expect(c.getRun('r')).rejects.toMatchObject({ transient: true });
  });

  it('retries once on a keep-alive socket the server already closed', async () => {
    let calls = 0;
    const flaky: typeof fetch = () => {
      calls += 1;
      if (calls === 1) return Promise.reject(new TypeError('fetch failed', { cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }) }));
      return Promise.resolve(new Response(JSON.stringify({ run: { info: { run_id: 'r' }, data: {} } }), { status: 200 }));
    };
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: flaky });
    await expect(c.getRun('r')).resolves.toMatchObject({ info: { run_id: 'r' } });
    expect(calls).toBe(2);
  });

  it('returns null for a missing alias', async () => {
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: fakeFetch(404, { error_code: 'RESOURCE_DOES_NOT_EXIST' }) });
    await expect(c.getModelVersionByAlias('m', 'champion')).resolves.toBeNull();
  });

  it('reports an unreachable server as a transient error', async () => {
    const c = new MlflowClient({ trackingUri: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(c.getRun('r')).rejects.toMatchObject({ status: 503, transient: true });
  });

  it('refuses a version without the sha256 / ONNX tags serving relies on', () => {
    expect(() => modelRefOf({ name: 'm', version: '1', source: 's', tags: [] })).toThrow(/lacks/);
    expect(modelRefOf({ name: 'm', version: '1', source: 's', tags: [{ key: 'lifecycle.sha256', value: 'h' }, { key: 'lifecycle.onnx_uri', value: 'u' }] })).toEqual({
      name: 'm',
      version: '1',
      sha256: 'h',
      artifactUri: 'u',
    });
  });

  it('sends basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD, like MLflow clients', async () => {
    const seen: string[] = [];
    const recorder: typeof fetch = (_url, init) => {
      seen.push(new Headers(init?.headers).get('authorization') ?? '');
      return Promise.resolve(new Response(JSON.stringify({ run: { info: { run_id: 'r' }, data: {} } }), { status: 200 }));
    };
    const auth = authFromEnv({ MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 's3cret' });
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: recorder, auth });
    await c.getRun('r');
    await c.uploadArtifact('mlflow-artifacts:/1/r/artifacts/a.txt', Buffer.from('a')).catch(() => undefined);
    expect(seen).toEqual([`Basic ${Buffer.from('admin:s3cret').toString('base64')}`, `Basic ${Buffer.from('admin:s3cret').toString('base64')}`]);
  });

  it('sends a bearer token from MLFLOW_TRACKING_TOKEN and nothing without credentials', () => {
    expect(authFromEnv({ MLFLOW_TRACKING_TOKEN: 't' })).toEqual({ token: 't' });
    expect(authFromEnv({})).toBeUndefined();
  });

  it('reports refused credentials as a non-transient error', async () => {
    const c = new MlflowClient({ trackingUri: 'http://x', fetchImpl: fakeFetch(401, 'You are not authenticated') });
    await expect(c.getRun('r')).rejects.toMatchObject({ status: 401, errorCode: 'UNAUTHENTICATED', transient: false });
  });

  it('ends a run as KILLED', async () => {
    const bodies: unknown[] = [];
    const recorder: typeof fetch = (_url, init) => {
      bodies.push(JSON.parse(init?.body as string));
      return Promise.resolve(new Response('{}', { status: 200 }));
    };
    await new MlflowClient({ trackingUri: 'http://x', fetchImpl: recorder }).setTerminated('r', 'KILLED');
    expect(bodies[0]).toMatchObject({ run_id: 'r', status: 'KILLED' });
  });
});
