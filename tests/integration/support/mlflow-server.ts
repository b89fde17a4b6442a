import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './prometheus';
import { VENV_BIN } from './env';

export interface OwnMlflowServer {
  uri: string;
  /** Stops the server (SIGTERM to its process group) and waits until it is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, database and artifact folder; resolves when it answers /health. */
  start(): Promise<void>;
  close(): Promise<void>;
}

/** How to start the server: a command for a state folder and a port. */
export type MlflowLaunch = (dir: string, port: number) => { file: string; args: string[]; env?: NodeJS.ProcessEnv };

/** `mlflow server` on SQLite with proxied artifacts, no authentication. */
const plainMlflow: MlflowLaunch = (dir, port) => ({
  file: join(VENV_BIN, 'mlflow'),
  args: ['server', '--backend-store-uri', `sqlite:///${dir}/mlflow.db`, '--serve-artifacts', '--artifacts-destination', join(dir, 'artifacts'), '--host', '127.0.0.1', '--port', String(port), '--workers', '1'],
});

/**
 * A test's own MLflow tracking server (SQLite + proxied artifacts in a temp
 * folder, a free port), so a test can stop and restart it without touching the
 * shared server of `make test`.
 */
export async function startOwnMlflowServer(launch: MlflowLaunch = plainMlflow): Promise<OwnMlflowServer> {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-mlflow-'));
  const port = await freePort();
  const uri = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  let log = '';

  const start = async () => {
    const { file, args, env } = launch(dir, port);
    child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: env ?? process.env });
    const keep = (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`mlflow server exited during start-up:\n${log}`);
      const ok = await fetch(`${uri}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`mlflow server not ready after 120 s:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const stop = async () => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    process.kill(-c.pid!, 'SIGTERM');
    const killer = setTimeout(() => process.kill(-c.pid!, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    // uvicorn's workers may outlive the parent for a moment; the port must be refused before we say "down".
    for (let i = 0; i < 100 && (await fetch(`${uri}/health`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 100));
  };

  await start();
  return {
    uri,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
