import type { FastifyInstance } from 'fastify';
import { createLogger } from '../../../lib/logger';
import type { WorkerStatus } from '../../../lib/fleet/protocol';
import { decodeBytesElements, encodeBytesElements } from '../../../lib/oip/binary-data';
import type { InferenceResponse, ModelMetadataResponse } from '../../../lib/oip/protocol';
import { DeadlineExceededError, QueueFullError } from '../../../lib/queue/errors';
import type { InferenceResult, InferItem } from '../../../lib/queue/inference-client';
import { fakeQueue, servedModels } from '../../../tests/support/fake-inference';
import { testImage } from '../../../tests/support/images';
import { FASHION_LABELS, testActiveModel } from '../../../tests/support/metadata';
import { buildApp } from '../../app';

const MODEL = 'fashion-mnist-classifier';
/** Class i has probability (i + 1) / 55: Ankle boot first. The reply is sorted and cut to the item's k, as a worker's. */
const answer = (item: InferItem, version = '3'): Promise<InferenceResult> =>
  Promise.resolve({
    model: { name: MODEL, version },
    predictions: FASHION_LABELS.map((label, i) => ({ label, probability: (i + 1) / 55 }))
      .reverse()
      .slice(0, item.k ?? 5),
  });

const readyWorker: WorkerStatus = { workerId: 'w1', state: 'ready', models: { [MODEL]: { version: '3', sha256: null, state: 'ready' } }, updatedAt: Date.now() };
const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function appWith(queue = fakeQueue((item) => answer(item)), workers: WorkerStatus[] = [readyWorker], extra: { MAX_BATCH_FILES?: number; MAX_UPLOAD_BYTES?: number; RATE_LIMIT_PER_MINUTE?: number } = {}) {
  const app = await buildApp({
    config: { MAX_UPLOAD_BYTES: 200_000, MAX_IMAGE_PIXELS: 1_000_000, REQUEST_TIMEOUT_MS: 5000, RETRY_AFTER_SECONDS: 2, MODEL_NAME: MODEL, DECODE_IN: 'api', ...extra },
    inference: queue,
    models: servedModels(testActiveModel('3')),
    readiness: () => Promise.resolve({ ready: true, model: { name: MODEL, version: '3' }, workers: 1 }),
    workers: () => Promise.resolve(workers),
    logger: createLogger('test', 'silent'),
  });
  apps.push(app);
  return app;
}

const infer = (app: FastifyInstance, body: unknown, opts: { url?: string; binary?: Buffer[]; headers?: Record<string, string> } = {}) => {
  const json = Buffer.from(JSON.stringify(body));
  const binary = opts.binary ?? [];
  const headers: Record<string, string> = binary.length ? { 'inference-header-content-length': String(json.length), 'content-type': 'application/octet-stream' } : { 'content-type': 'application/json' };
  return app.inject({ method: 'POST', url: opts.url ?? `/v2/models/${MODEL}/infer`, payload: Buffer.concat([json, ...binary]), headers: { ...headers, ...opts.headers } });
};

type Res = { json: <T>() => T };
const failure = (res: Res) => res.json<{ code: string; error: string }>();
const response = (res: Res) => res.json<InferenceResponse>();

const image = (data: unknown, shape = [1], parameters?: Record<string, unknown>) => ({ name: 'image', datatype: 'BYTES', shape, data, parameters });
const inOrder = FASHION_LABELS.map((_, i) => Math.fround((i + 1) / 55));

describe('Open Inference Protocol: health and metadata', () => {
  it('answers server metadata with the binary tensor data extension', async () => {
    const res = await (await appWith()).inject({ url: '/v2' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'lifecycle', version: expect.any(String) as string, extensions: ['binary_tensor_data'] });
  });

  it('is live, ready when every served model has a ready worker, and says not ready with a 400 otherwise', async () => {
    const app = await appWith();
    expect((await app.inject({ url: '/v2/health/live' })).json()).toEqual({ live: true });
    expect((await app.inject({ url: '/v2/health/ready' })).statusCode).toBe(200);
    const idle = await appWith(undefined, []);
    const res = await idle.inject({ url: '/v2/health/ready' });
    expect([res.statusCode, res.json()]).toEqual([400, { ready: false }]);
    expect((await idle.inject({ url: `/v2/models/${MODEL}/ready` })).json()).toEqual({ name: MODEL, ready: false });
  });

  it('answers model readiness for the served version, 404 for another version or model', async () => {
    const app = await appWith();
    expect((await app.inject({ url: `/v2/models/${MODEL}/ready` })).json()).toEqual({ name: MODEL, ready: true });
    expect((await app.inject({ url: `/v2/models/${MODEL}/versions/3/ready` })).statusCode).toBe(200);
    const other = await app.inject({ url: `/v2/models/${MODEL}/versions/2/ready` });
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual({ code: 'VERSION_NOT_SERVED', error: expect.stringContaining('serves version 3') as string });
    expect((await app.inject({ url: '/v2/models/nope/ready' })).json()).toMatchObject({ code: 'MODEL_NOT_FOUND' });
  });

  it('describes the model: its tensors at the model geometry, the labels as a parameter', async () => {
    const res = await (await appWith()).inject({ url: `/v2/models/${MODEL}/versions/3` });
    expect(res.statusCode).toBe(200);
    const body = res.json<ModelMetadataResponse>();
    expect(body).toMatchObject({
      name: MODEL,
      versions: ['3'],
      platform: 'onnxruntime',
      inputs: [
        { name: 'image', datatype: 'BYTES', shape: [-1] },
        { name: 'pixels', datatype: 'UINT8', shape: [-1, 28, 28, 1] },
      ],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
    });
    expect(JSON.parse(String(body.parameters?.labels))).toEqual(FASHION_LABELS);
  });

  it('answers unknown /v2 routes in the protocol shape', async () => {
    const res = await (await appWith()).inject({ url: '/v2/nothing' });
    expect([res.statusCode, res.json()]).toEqual([404, { code: 'NOT_FOUND', error: expect.stringContaining('/v2/nothing') as string }]);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const app = await appWith();
    await app.ready();
    type Doc = { paths: Record<string, { post: { requestBody: { content: Record<string, { schema: { properties: Record<string, unknown> } }> } } }> };
    const doc = (await app.inject({ url: '/docs/json' })).json<Doc>();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v2', '/v2/health/ready', '/v2/models/{name}', '/v2/models/{name}/versions/{version}/infer']));
    expect(doc.paths['/v2/models/{name}/infer']!.post.requestBody.content['application/json']?.schema.properties.inputs).toBeDefined();
  });
});

describe('Open Inference Protocol: inference', () => {
  it('classifies base64 images in JSON: every probability in label order, the top-1 label, the id echoed', async () => {
    const queue = fakeQueue((item) => answer(item));
    const png = (await testImage(1)).toString('base64');
    const res = await infer(await appWith(queue), { id: 'req-7', inputs: [image([png, png], [2])] });
    expect(res.statusCode).toBe(200);
    expect(res.headers['inference-header-content-length']).toBeUndefined();
    const body = response(res);
    expect(body).toMatchObject({ model_name: MODEL, model_version: '3', id: 'req-7' });
    expect(body.outputs[0]).toEqual({ name: 'probabilities', shape: [2, 10], datatype: 'FP32', data: [...inOrder, ...inOrder] });
    expect(body.outputs[1]).toEqual({ name: 'label', shape: [2], datatype: 'BYTES', data: ['Ankle boot', 'Ankle boot'] });
    // Every class asked of the worker, the image decoded by the Predictor like an upload of /predict.
    expect(queue.calls.map((c) => [c.k, c.input.kind])).toEqual([[10, 'pixels'], [10, 'pixels']]);
  });

  it('takes raw images with the binary extension and answers binary outputs when asked (binary_data_output)', async () => {
    const png = await testImage(2);
    const raw = encodeBytesElements([png]);
    const res = await infer(await appWith(), { inputs: [image(undefined, [1], { binary_data_size: raw.length })], parameters: { binary_data_output: true } }, { binary: [raw] });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const headerLength = Number(res.headers['inference-header-content-length']);
    const body = res.rawPayload;
    const json = JSON.parse(body.subarray(0, headerLength).toString()) as InferenceResponse;
    expect(json.outputs).toEqual([
      { name: 'probabilities', shape: [1, 10], datatype: 'FP32', parameters: { binary_data_size: 40 } },
      { name: 'label', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: 4 + 'Ankle boot'.length } },
    ]);
    const probabilities = Array.from({ length: 10 }, (_, i) => body.readFloatLE(headerLength + i * 4));
    expect(probabilities).toEqual(inOrder);
    expect(decodeBytesElements(body.subarray(headerLength + 40), 'label').map(String)).toEqual(['Ankle boot']);
  });

  it('honours the requested outputs: only the label (top-1 asked of the worker), binary per output', async () => {
    const queue = fakeQueue((item) => answer(item));
    const png = (await testImage(3)).toString('base64');
    const res = await infer(await appWith(queue), { inputs: [image([png])], outputs: [{ name: 'label', parameters: { binary_data: false } }] });
    expect(response(res).outputs).toEqual([{ name: 'label', shape: [1], datatype: 'BYTES', data: ['Ankle boot'] }]);
    expect(queue.calls[0]!.k).toBe(1);
  });

  it('answers every output to an empty outputs list', async () => {
    const png = (await testImage(3)).toString('base64');
    const res = await infer(await appWith(), { inputs: [image([png])], outputs: [] });
    expect(response(res).outputs.map((o) => o.name)).toEqual(['probabilities', 'label']);
  });

  it('takes UINT8 pixels at the model geometry, nested or binary, as pixels the worker normalises', async () => {
    const queue = fakeQueue((item) => answer(item));
    const app = await appWith(queue);
    const rows = Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => [(x + y) % 256]));
    const res = await infer(app, { inputs: [{ name: 'pixels', datatype: 'UINT8', shape: [1, 28, 28, 1], data: [rows] }] });
    expect(res.statusCode).toBe(200);
    const sent = queue.calls[0]!.input;
    expect(sent.kind === 'pixels' && [sent.height, sent.width, sent.channels, sent.pixels[29]]).toEqual([28, 28, 1, 2]);
    const raw = Buffer.alloc(2 * 784, 7);
    const binary = await infer(app, { inputs: [{ name: 'pixels', datatype: 'UINT8', shape: [2, 28, 28, 1], parameters: { binary_data_size: raw.length } }] }, { binary: [raw] });
    expect(response(binary).outputs[1]?.data).toHaveLength(2);
  });

  it('answers a pinned served version, and 404 naming the served version for another one', async () => {
    const app = await appWith();
    const png = (await testImage(1)).toString('base64');
    expect((await infer(app, { inputs: [image([png])] }, { url: `/v2/models/${MODEL}/versions/3/infer` })).statusCode).toBe(200);
    const res = await infer(app, { inputs: [image([png])] }, { url: `/v2/models/${MODEL}/versions/9/infer` });
    expect([res.statusCode, failure(res).code]).toEqual([404, 'VERSION_NOT_SERVED']);
    expect(failure(res).error).toContain('serves version 3');
  });

  it('answers 503 with Retry-After when another version answered a pinned request mid-rollout', async () => {
    const app = await appWith(fakeQueue((item) => answer(item, '4')));
    const png = (await testImage(1)).toString('base64');
    const res = await infer(app, { inputs: [image([png])] }, { url: `/v2/models/${MODEL}/versions/3/infer` });
    expect([res.statusCode, failure(res).code, res.headers['retry-after']]).toEqual([503, 'VERSION_CHANGED', '2']);
  });

  it.each([
    ['two inputs', { inputs: [image(['a']), image(['a'])] }, 'INVALID_TENSOR', /exactly one input/],
    ['an unknown input', { inputs: [{ name: 'x', datatype: 'BYTES', shape: [1], data: ['a'] }] }, 'INVALID_TENSOR', /Unknown input x/],
    ['a wrong datatype', { inputs: [{ name: 'image', datatype: 'UINT8', shape: [1], data: [1] }] }, 'INVALID_TENSOR', /must be BYTES/],
    ['a shape that disagrees with the data', { inputs: [image(['aGk=', 'aGk='], [1])] }, 'INVALID_TENSOR', /more elements/],
    ['an element that is not base64', { inputs: [image(['not base64!'])] }, 'INVALID_TENSOR', /base64/],
    ['pixels at another geometry', { inputs: [{ name: 'pixels', datatype: 'UINT8', shape: [1, 32, 32, 1], data: [0] }] }, 'INVALID_TENSOR', /\[N,28,28,1\]/],
    ['a pixel out of range', { inputs: [{ name: 'pixels', datatype: 'UINT8', shape: [1, 28, 28, 1], data: Array(784).fill(256) }] }, 'INVALID_TENSOR', /UINT8/],
    ['no data', { inputs: [image(undefined)] }, 'INVALID_TENSOR', /neither data nor/],
    ['an unknown output', { inputs: [image(['aGk='])], outputs: [{ name: 'logits' }] }, 'INVALID_TENSOR', /Unknown output logits/],
    ['no inputs', { inputs: [] }, 'INVALID_REQUEST', /inputs/],
    ['a body that is not an object', [1, 2], 'INVALID_REQUEST', /invalid/],
  ])('answers 400 to %s', async (_what, body, code, message) => {
    const res = await infer(await appWith(), body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ code, error: expect.stringMatching(message) as string });
  });

  it('answers 400 when the binary data and binary_data_size disagree, or the JSON is not JSON', async () => {
    const app = await appWith();
    const short = await infer(app, { inputs: [image(undefined, [1], { binary_data_size: 10 })] }, { binary: [Buffer.alloc(4)] });
    expect([short.statusCode, failure(short).code]).toEqual([400, 'INVALID_BINARY_DATA']);
    const left = await infer(app, { inputs: [image(undefined, [1], { binary_data_size: 4 })] }, { binary: [Buffer.from([0, 0, 0, 0, 9])] });
    expect(failure(left).error).toMatch(/belong to no input/);
    const garbage = await app.inject({ method: 'POST', url: `/v2/models/${MODEL}/infer`, payload: 'nope', headers: { 'content-type': 'application/json' } });
    expect([garbage.statusCode, failure(garbage).code]).toEqual([400, 'INVALID_JSON']);
  });

  it('answers 415 to a file that is not an image, like /predict', async () => {
    const res = await infer(await appWith(), { inputs: [image([Buffer.from('plain text').toString('base64')])] });
    expect([res.statusCode, failure(res).code]).toEqual([415, 'UNSUPPORTED_IMAGE']);
  });

  it('answers 413 to more images than MAX_BATCH_FILES or an image over MAX_UPLOAD_BYTES', async () => {
    const app = await appWith(undefined, undefined, { MAX_BATCH_FILES: 2, MAX_UPLOAD_BYTES: 1000 });
    const many = await infer(app, { inputs: [image(['aGk=', 'aGk=', 'aGk='], [3])] });
    expect([many.statusCode, failure(many).code]).toEqual([413, 'TOO_MANY_INPUTS']);
    const big = await infer(app, { inputs: [image([Buffer.alloc(1001).toString('base64')])] });
    expect([big.statusCode, failure(big).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const body = await infer(app, { inputs: [image(['a'.repeat(2 * 1024 * 1024)])] });
    expect([body.statusCode, failure(body).code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
  });

  it('answers 503 with Retry-After when the queue is full, and 504 at the deadline', async () => {
    const png = (await testImage(1)).toString('base64');
    const full = fakeQueue((item) => answer(item), () => Promise.reject(new QueueFullError(1000, 3)));
    const res = await infer(await appWith(full), { inputs: [image([png])] });
    expect([res.statusCode, failure(res).code, res.headers['retry-after']]).toEqual([503, 'QUEUE_FULL', '3']);
    const late = await infer(await appWith(fakeQueue(() => Promise.reject(new DeadlineExceededError(5000)))), { inputs: [image([png])] });
    expect([late.statusCode, failure(late).code]).toEqual([504, 'DEADLINE_EXCEEDED']);
  });

  it('counts each image in the prediction metrics of the other routes, by the version that answered', async () => {
    const app = await appWith();
    const png = (await testImage(1)).toString('base64');
    await infer(app, { inputs: [image([png, png, png], [3])] });
    await infer(app, { inputs: [image(['bm90IGFuIGltYWdl'])] });
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain(`lifecycle_predictions_total{model="${MODEL}",model_version="3",status="ok"} 3`);
    expect(metrics).toContain(`lifecycle_predictions_total{model="${MODEL}",model_version="3",status="rejected"} 1`);
    expect(metrics).toContain(`lifecycle_http_request_duration_seconds_count{method="POST",route="/v2/models/:name/infer",status_code="200"} 1`);
  });

  it('shares the rate limit of the prediction routes: 429 with Retry-After, in the protocol shape', async () => {
    const app = await appWith(undefined, undefined, { RATE_LIMIT_PER_MINUTE: 1 });
    const png = (await testImage(1)).toString('base64');
    expect((await infer(app, { inputs: [image([png])] })).statusCode).toBe(200);
    const res = await infer(app, { inputs: [image([png])] });
    expect([res.statusCode, failure(res).code, res.headers['retry-after']]).toEqual([429, 'RATE_LIMITED', expect.any(String)]);
  });

  it('answers 400 to an empty body', async () => {
    const res = await (await appWith()).inject({ method: 'POST', url: `/v2/models/${MODEL}/infer` });
    expect([res.statusCode, failure(res).code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('answers 404 for a model that is not served', async () => {
    const res = await infer(await appWith(), { inputs: [image(['aGk='])] }, { url: '/v2/models/other/infer' });
    expect([res.statusCode, failure(res).code]).toEqual([404, 'MODEL_NOT_FOUND']);
  });

  it('parses a body sent without a content type, and a gzip-compressed one (tritonclient can send both)', async () => {
    const { gzipSync } = await import('node:zlib');
    const app = await appWith();
    const png = (await testImage(1)).toString('base64');
    const json = JSON.stringify({ inputs: [image([png])] });
    const plain = await app.inject({ method: 'POST', url: `/v2/models/${MODEL}/infer`, payload: json });
    expect(plain.statusCode).toBe(200);
    const gz = await app.inject({ method: 'POST', url: `/v2/models/${MODEL}/infer`, payload: gzipSync(json), headers: { 'content-encoding': 'gzip' } });
    expect(gz.statusCode).toBe(200);
  });
});
