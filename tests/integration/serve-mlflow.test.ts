import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCommand } from '../../lib/process/run';
import { MLFLOW_TRACKING_URI, ROOT, uniqueId } from './support/env';
import { GRAY_CLASSES, writeShapesDataset } from './support/trainer-datasets';
import { downloadProxiedArtifact, freePort, mlflowPost } from './support/trainer-mlflow';
import { expectSuccess, PYTHON, runTrainer } from './support/trainer-process';

/**
 * The README's model-serving line, `make serve-mlflow ARGS="--model NAME --port N"`, run as pasted in a
 * fresh shell: no venv on PATH (MLflow starts `uvicorn` from PATH) and no MLFLOW_TRACKING_URI, only the
 * stack's own settings (here MLFLOW_PORT of the test MLflow). It serves the registered model's champion
 * and answers /invocations with a tensor of the model's signature. Builds on the `mlflow models serve`
 * checks of trainer-mlflow-model.test.ts and lifecycle.test.ts, which set PATH and the URI themselves.
 */
describe('make serve-mlflow: MLflow serving of the champion, as the README shows it', () => {
  const name = `${uniqueId('serve')}-classifier`;
  let root: string;
  let server: ChildProcess | undefined;
  let artifactUri: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'lifecycle-serve-mlflow-'));
    const data = await writeShapesDataset(join(root, 'data'), { classes: GRAY_CLASSES, channels: 1, size: 28, perClassTrain: 20, perClassTest: 4 });
    expectSuccess(await runTrainer({ data, out: join(root, 'out'), params: { epochs: 1, batch_size: 16, num_threads: 1 } }));
    const { experiment_id } = await mlflowPost<{ experiment_id: string }>(MLFLOW_TRACKING_URI, 'experiments/create', { name });
    const runId = (await mlflowPost<{ run: { info: { run_id: string } } }>(MLFLOW_TRACKING_URI, 'runs/create', { experiment_id, start_time: Date.now() })).run.info.run_id;
    const { stdout } = await runCommand(PYTHON, [join(ROOT, 'trainer/log_mlflow_model.py'), '--run-id', runId, '--onnx', join(root, 'out/model.onnx')], {
      env: { ...process.env, MLFLOW_TRACKING_URI },
    });
    const logged = JSON.parse(stdout.trim().split('\n').pop()!) as { model_id: string; model_uri: string; artifact_uri: string };
    artifactUri = logged.artifact_uri;
    await mlflowPost(MLFLOW_TRACKING_URI, 'registered-models/create', { name });
    const { model_version } = await mlflowPost<{ model_version: { version: string } }>(MLFLOW_TRACKING_URI, 'model-versions/create', { name, source: logged.model_uri, run_id: runId, model_id: logged.model_id });
    await mlflowPost(MLFLOW_TRACKING_URI, 'registered-models/alias', { name, alias: 'champion', version: model_version.version });
  });

  afterAll(async () => {
    if (server?.pid && server.exitCode === null) {
      const exited = new Promise((r) => server!.once('exit', r));
      process.kill(-server.pid, 'SIGTERM');
      await exited;
    }
    await rm(root, { recursive: true, force: true });
  });

  it('serves models:/NAME@champion from a shell without the venv or MLFLOW_TRACKING_URI, and answers /invocations', async () => {
    const port = await freePort();
    const mlflowPort = new URL(MLFLOW_TRACKING_URI).port;
    // A fresh shell: the machine's PATH without any venv, HOME, and the stack's own settings only.
    const path = (process.env.PATH ?? '').split(':').filter((d) => !d.includes('venv')).join(':');
    const env = { PATH: path, HOME: process.env.HOME ?? '/root', LIFECYCLE_STATE_DIR: join(root, 'state'), MLFLOW_PORT: mlflowPort };
    server = spawn('make', ['-s', 'serve-mlflow', `ARGS=--model ${name} --port ${port}`], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));
    server.stderr!.on('data', (c: Buffer) => (log = (log + c.toString()).slice(-4000)));

    const deadline = Date.now() + 120_000;
    for (;;) {
      if (server.exitCode !== null) throw new Error(`make serve-mlflow exited with ${server.exitCode}:\n${log}`);
      if (await fetch(`http://127.0.0.1:${port}/ping`).then((r) => r.ok, () => false)) break;
      if (Date.now() > deadline) throw new Error(`make serve-mlflow not answering on :${port}:\n${log}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(log).toContain(`serving models:/${name}@champion from http://127.0.0.1:${mlflowPort}`);

    // The model's input tensor (1x1x28x28, as its MLmodel signature says): what MLflow's own serving takes.
    const { signature } = parse((await downloadProxiedArtifact(MLFLOW_TRACKING_URI, `${artifactUri}/MLmodel`)).toString('utf8')) as { signature: { inputs: string } };
    expect(JSON.parse(signature.inputs)).toEqual([{ name: 'input', type: 'tensor', 'tensor-spec': { dtype: 'float32', shape: [-1, 1, 28, 28] } }]);
    const image = [[Array.from({ length: 28 }, (_, y) => Array.from({ length: 28 }, (_, x) => ((x + y) % 7) / 7))]];
    const res = await fetch(`http://127.0.0.1:${port}/invocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: { input: image } }) });
    expect(res.status).toBe(200);
    const logits = ((await res.json()) as { predictions: { logits: number[][] } }).predictions.logits;
    expect(logits[0]).toHaveLength(GRAY_CLASSES.length);
  });
});
