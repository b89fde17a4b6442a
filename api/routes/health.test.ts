import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../lib/logger';
import { fakeQueue, servedModels } from '../../tests/support/fake-inference';
import { testActiveModel } from '../../tests/support/metadata';
import { buildApp } from '../app';
import type { Readiness } from '../services/readiness';

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

const appWith = async (readiness: Readiness) => {
  const app = await buildApp({
    config: { MAX_UPLOAD_BYTES: 1000, MAX_IMAGE_PIXELS: 1000, REQUEST_TIMEOUT_MS: 1000, RETRY_AFTER_SECONDS: 1, MODEL_NAME: 'fashion-mnist-classifier', API_INSTANCE_ID: 'api-7' },
    inference: fakeQueue(() => Promise.reject(new Error('unused'))),
    models: servedModels(testActiveModel('4')),
    workers: () => Promise.resolve([{ workerId: 'w1', state: 'ready', models: { 'fashion-mnist-classifier': { version: '4', sha256: 'a'.repeat(64), state: 'ready' } }, updatedAt: 0 }]),
    readiness: () => Promise.resolve(readiness),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return app;
};

describe('health routes', () => {
  it('GET /healthz answers 200 while the process runs', async () => {
    const app = await appWith({ ready: false, model: null, workers: 0 });
    const res = await app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('GET /readyz answers 200 with the served model when ready', async () => {
    const app = await appWith({ ready: true, model: { name: 'm', version: '4' }, workers: 2 });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ready', model: { name: 'm', version: '4' }, workers: 2, instance: 'api-7' });
  });

  it('GET /readyz answers 503 with the reason when not ready', async () => {
    const app = await appWith({ ready: false, reason: 'no active model', model: null, workers: 0 });
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'not_ready', reason: 'no active model', model: null, workers: 0, instance: 'api-7' });
  });

  it('GET /docs serves the Swagger UI', async () => {
    const app = await appWith({ ready: true, model: null, workers: 0 });
    let res = await app.inject({ method: 'GET', url: '/docs' });
    if (res.statusCode === 302) {
      const location = res.headers.location;
      expect(typeof location).toBe('string');
      res = await app.inject({ method: 'GET', url: new URL(location as string, 'http://localhost/docs').pathname });
    }
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.body).toContain('swagger-ui');
  });

  it('GET /docs/json serves the OpenAPI document with POST /predict and its img_file upload', async () => {
    const app = await appWith({ ready: true, model: null, workers: 0 });
    const res = await app.inject({ method: 'GET', url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    type Doc = {
      openapi: string;
      paths: Record<string, Record<string, { requestBody?: { content: Record<string, { schema: { required?: string[]; properties: Record<string, unknown> } }> } }>>;
    };
    const doc = res.json<Doc>();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/predict', '/predict/batch', '/models', '/models/{name}/predict', '/models/{name}/predict/batch', '/healthz', '/readyz']),
    );
    const batch = doc.paths['/predict/batch']?.post?.requestBody?.content['multipart/form-data']?.schema;
    expect(batch?.properties.img_file).toMatchObject({ type: 'array', items: { type: 'string', format: 'binary' } });
    const upload = doc.paths['/predict']?.post?.requestBody?.content['multipart/form-data']?.schema;
    expect(upload?.required).toContain('img_file');
    expect(upload?.properties.img_file).toMatchObject({ type: 'string', format: 'binary' });
  });

  it('GET /models lists each served model with its version, input, labels and the workers serving it', async () => {
    const app = await appWith({ ready: true, model: null, workers: 0 });
    const res = await app.inject({ method: 'GET', url: '/models' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      models: [
        {
          name: 'fashion-mnist-classifier',
          version: '4',
          default: true,
          input: { height: 28, width: 28, channels: 1, colorspace: 'grayscale' },
          labels: expect.arrayContaining(['Bag']) as unknown,
          workers: [{ worker: 'w1', version: '4', state: 'ready' }],
        },
      ],
    });
  });

  it('answers unknown routes with a 404 in the error shape', async () => {
    const app = await appWith({ ready: true, model: null, workers: 0 });
    const res = await app.inject({ method: 'GET', url: '/nope' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found' });
  });
});
