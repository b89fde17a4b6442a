import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { parse } from 'yaml';
import { readModelMetadata, type ModelMetadata } from '../../lib/model/metadata';
import { pixelsToTensor } from '../../lib/model/tensor';
import { runCommand } from '../../lib/process/run';
import { ROOT } from './support/env';
import { GRAY_CLASSES, writeShapesDataset } from './support/trainer-datasets';
import { downloadProxiedArtifact, freePort, mlflowPost, startVenvServer, type ServerProcess } from './support/trainer-mlflow';
import { expectSuccess, PYTHON, runTrainer } from './support/trainer-process';

interface LoggedModel {
  model_id: string;
  model_uri: string;
  artifact_uri: string;
  onnx_artifact_uri: string;
  onnx_sha256: string;
}

/**
 * trainer/log_mlflow_model.py against a throw-away MLflow server (SQLite, proxied artifacts):
 * the printed artifact URIs and sha256 match what the artifact store holds, the MLmodel has the
 * tensor signature, and `mlflow models serve --env-manager local` answers the same logits as
 * onnxruntime-node for the same input.
 */
describe('log_mlflow_model.py: the trainer model as an MLflow ONNX model', () => {
  let root: string;
  let mlflow: ServerProcess;
  let onnxBytes: Buffer;
  let metadata: ModelMetadata;
  let runId: string;
  let logged: LoggedModel;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifecycle-trainer-mlflow-'));
    const port = await freePort();
    const [server, data] = await Promise.all([
      startVenvServer(
        ['mlflow', 'server', '--backend-store-uri', `sqlite:///${join(root, 'mlflow.db')}`, '--serve-artifacts', '--artifacts-destination', join(root, 'artifacts'), '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
        port,
        '/health',
        // No background job runner (a pool of huey consumers): this server only stores one run.
        { cwd: root, env: { MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false' } },
      ),
      writeShapesDataset(join(root, 'data'), { classes: GRAY_CLASSES, channels: 1, size: 28, perClassTrain: 40, perClassTest: 8 }),
    ]);
    mlflow = server;
    expectSuccess(await runTrainer({ data, out: join(root, 'out'), params: { epochs: 2, batch_size: 16, num_threads: 1 } }));
    onnxBytes = await readFile(join(root, 'out/model.onnx'));
    metadata = readModelMetadata(onnxBytes);
    const { experiment_id } = await mlflowPost<{ experiment_id: string }>(mlflow.url, 'experiments/create', { name: 'trainer-log-model' });
    runId = (await mlflowPost<{ run: { info: { run_id: string } } }>(mlflow.url, 'runs/create', { experiment_id, start_time: Date.now() })).run.info.run_id;
    const { stdout } = await runCommand(PYTHON, [join(ROOT, 'trainer/log_mlflow_model.py'), '--run-id', runId, '--onnx', join(root, 'out/model.onnx')], {
      env: { ...process.env, MLFLOW_TRACKING_URI: mlflow.url },
    });
    const lines = stdout.split('\n').filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    logged = JSON.parse(lines[0]!) as LoggedModel;
  });

  afterAll(async () => {
    await mlflow?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('prints the logged model id, its models:/ URI and its proxied artifact URIs', () => {
    expect(logged.model_id).toMatch(/^m-[0-9a-f]{32}$/);
    expect(logged.model_uri).toBe(`models:/${logged.model_id}`);
    expect(logged.artifact_uri).toMatch(new RegExp(`^mlflow-artifacts:/\\d+/models/${logged.model_id}/artifacts$`));
    expect(logged.onnx_artifact_uri).toBe(`${logged.artifact_uri}/model.onnx`);
  });

  it('onnx_sha256 is the hash of model.onnx as the artifact store serves it: one self-contained file with the lifecycle metadata', async () => {
    const stored = await downloadProxiedArtifact(mlflow.url, logged.onnx_artifact_uri);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(logged.onnx_sha256);
    expect(readModelMetadata(stored)).toEqual(metadata);
    // Workers download only this file: the weights must be inside it, not in external data files.
    const session = await ort.InferenceSession.create(stored);
    await session.release();
  });

  it('writes an MLmodel with the tensor signature, an input example and pinned onnx/onnxruntime requirements', async () => {
    const mlmodel = parse((await downloadProxiedArtifact(mlflow.url, `${logged.artifact_uri}/MLmodel`)).toString('utf8')) as {
      run_id: string;
      model_id: string;
      flavors: Record<string, unknown>;
      signature: { inputs: string; outputs: string };
      saved_input_example_info: { artifact_path: string };
    };
    expect(mlmodel.run_id).toBe(runId);
    expect(mlmodel.model_id).toBe(logged.model_id);
    expect(Object.keys(mlmodel.flavors).sort()).toEqual(['onnx', 'python_function']);
    expect(JSON.parse(mlmodel.signature.inputs)).toEqual([{ name: 'input', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 1, 28, 28] } }]);
    expect(JSON.parse(mlmodel.signature.outputs)).toEqual([{ name: 'logits', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 3] } }]);
    expect(mlmodel.saved_input_example_info.artifact_path).toBe('input_example.json');
    const requirements = (await downloadProxiedArtifact(mlflow.url, `${logged.artifact_uri}/requirements.txt`)).toString('utf8');
    expect(requirements).toMatch(/^onnxruntime==\d+\.\d+\.\d+$/m);
    expect(requirements).toMatch(/^onnx==\d+\.\d+\.\d+$/m);
  });

  it('`mlflow models serve --env-manager local` answers the same logits as onnxruntime-node', async () => {
    const port = await freePort();
    const serving = await startVenvServer(['mlflow', 'models', 'serve', '-m', logged.model_uri, '-h', '127.0.0.1', '-p', String(port), '--env-manager', 'local'], port, '/ping', {
      cwd: root,
      env: { MLFLOW_TRACKING_URI: mlflow.url },
    });
    try {
      const [c, h, w] = [metadata.input.channels, metadata.input.height, metadata.input.width];
      const examples = metadata.golden!.inputs.map((p) => pixelsToTensor(p, metadata.input, metadata.normalization));
      const nested = examples.map((x) => Array.from({ length: c }, (_, ci) => Array.from({ length: h }, (_, y) => Array.from(x.subarray(ci * h * w + y * w, ci * h * w + (y + 1) * w)))));
      const res = await fetch(`${serving.url}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { input: nested } }) });
      expect(res.status).toBe(200);
      const served = ((await res.json()) as { predictions: { logits: number[][] } }).predictions.logits;

      const session = await ort.InferenceSession.create(onnxBytes, { intraOpNumThreads: 1 });
      const batch = new Float32Array(examples.length * c * h * w);
      examples.forEach((x, i) => batch.set(x, i * c * h * w));
      const local = (await session.run({ input: new ort.Tensor('float32', batch, [examples.length, c, h, w]) })).logits!.data as Float32Array;
      await session.release();

      expect(served).toHaveLength(examples.length);
      served.flat().forEach((v, i) => expect(v).toBeCloseTo(local[i]!, 4));
    } finally {
      await serving.stop();
    }
  });
});
