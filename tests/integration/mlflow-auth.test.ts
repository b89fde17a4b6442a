import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CommandError, runCommand } from '../../lib/process/run';
import { MlflowClient } from '../../lib/mlflow/client';
import { MlflowError } from '../../lib/mlflow/http';
import { ROOT, VENV_BIN } from './support/env';
import { startOwnMlflowServer, type OwnMlflowServer } from './support/mlflow-server';

/**
 * The production MLflow (infra/docker/mlflow/start-server.sh: the basic-auth app, the script
 * Kubernetes and docker-compose.prod.yml run) on loopback with SQLite stores, its users made by
 * the same ensure-users.py the `mlflow-users` Job runs, and the project's TypeScript client
 * authenticating the way the workers do (MLFLOW_TRACKING_USERNAME/PASSWORD).
 */
const SCRIPT = join(ROOT, 'infra/docker/mlflow/start-server.sh');
const USERS = join(ROOT, 'infra/docker/mlflow/ensure-users.py');
const secret = () => randomBytes(24).toString('base64url');

const serverEnv = (dir: string, port: number, admin: string): NodeJS.ProcessEnv => ({
  ...process.env,
  PATH: `${VENV_BIN}:${process.env.PATH ?? ''}`,
  MLFLOW_BACKEND_STORE_URI: `sqlite:///${dir}/mlflow.db`,
  MLFLOW_AUTH_DATABASE_URI: `sqlite:///${dir}/auth.db`,
  MLFLOW_AUTH_ADMIN_USERNAME: 'admin',
  MLFLOW_AUTH_ADMIN_PASSWORD: admin,
  MLFLOW_FLASK_SERVER_SECRET_KEY: randomBytes(32).toString('hex'),
  MLFLOW_ARTIFACTS_DESTINATION: join(dir, 'artifacts'),
  MLFLOW_AUTH_DIR: join(dir, 'auth'),
  MLFLOW_LISTEN_HOST: '127.0.0.1',
  MLFLOW_LISTEN_PORT: String(port),
  MLFLOW_WORKERS: '1',
});

describe('MLflow with authentication (the production start script)', () => {
  const admin = secret();
  const pipeline = { username: 'lifecycle-pipeline', password: secret() };
  const inference = { username: 'lifecycle-inference', password: secret() };
  let server: OwnMlflowServer;

  beforeAll(async () => {
    server = await startOwnMlflowServer((dir, port) => ({ file: 'sh', args: [SCRIPT], env: serverEnv(dir, port, admin) }));
    const made = await runCommand(join(VENV_BIN, 'python'), [USERS], {
      env: {
        ...process.env,
        MLFLOW_URL: server.uri,
        MLFLOW_ADMIN_USERNAME: 'admin',
        MLFLOW_ADMIN_PASSWORD: admin,
        MLFLOW_USERS: 'PIPE INFER',
        PIPE_USERNAME: pipeline.username,
        PIPE_PASSWORD: pipeline.password,
        INFER_USERNAME: inference.username,
        INFER_PASSWORD: inference.password,
      },
    });
    expect(made.stdout).toContain('lifecycle-pipeline: created');
    expect(made.stdout).toContain('lifecycle-inference: created');
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  });

  it('refuses to start with a well-known admin password, naming the variable', async () => {
    const run = runCommand('sh', [SCRIPT], { env: serverEnv('/nonexistent', 1, 'password1234') });
    await expect(run).rejects.toThrow(CommandError);
    await expect(run).rejects.toThrow('MLFLOW_AUTH_ADMIN_PASSWORD is a well-known default');
  });

  it('answers 401 to a client without credentials', async () => {
    const anonymous = new MlflowClient({ trackingUri: server.uri, auth: undefined });
    const err = await anonymous.getOrCreateExperiment('anonymous').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowError);
    expect((err as MlflowError).status).toBe(401);
  });

  it('lets the pipeline user run, upload, register and alias; the read-only inference user reads and downloads but cannot write', async () => {
    const pipe = new MlflowClient({ trackingUri: server.uri, auth: pipeline });
    const experimentId = await pipe.getOrCreateExperiment('auth-test');
    const run = await pipe.createRun(experimentId, 'auth-run', {});
    await pipe.logBatch(run.info.run_id, { params: { epochs: '1' }, metrics: [{ key: 'test_accuracy', value: 0.9, timestamp: Date.now(), step: 0 }] });
    const artifact = `${run.info.artifact_uri}/model/model.onnx`;
    const bytes = randomBytes(64);
    await pipe.uploadArtifact(artifact, bytes);
    await pipe.ensureRegisteredModel('auth-model');
    const version = await pipe.createModelVersion('auth-model', `${run.info.artifact_uri}/model`, run.info.run_id, {});
    await pipe.setAlias('auth-model', 'champion', version.version);

    const reader = new MlflowClient({ trackingUri: server.uri, auth: inference });
    expect((await reader.getModelVersionByAlias('auth-model', 'champion'))?.version).toBe(version.version);
    expect((await reader.downloadArtifact(artifact)).equals(bytes)).toBe(true);
    const denied = await reader.setAlias('auth-model', 'champion', version.version).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(MlflowError);
    expect((denied as MlflowError).status).toBe(403);

    const wrong = new MlflowClient({ trackingUri: server.uri, auth: { username: pipeline.username, password: 'not-the-password' } });
    expect(((await wrong.getRun(run.info.run_id).catch((e: unknown) => e)) as MlflowError).status).toBe(401);
  });
});
