import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { VENV_BIN } from './env';

export { freePort } from '../../../lib/process/free-port';

export interface ServerProcess {
  url: string;
  /** SIGTERM to the server's whole process group (it forks workers), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/**
 * Starts a venv command (`mlflow server`, `mlflow models serve`) that listens on `port`, in its own
 * process group, and waits until GET `readyPath` answers 200.
 */
export async function startVenvServer(args: string[], port: number, readyPath: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServerProcess> {
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(join(VENV_BIN, args[0]!), args.slice(1), {
    cwd: opts.cwd,
    // `mlflow models serve --env-manager local` starts `uvicorn` from PATH: the venv's bin must come first.
    env: { ...process.env, ...opts.env, PATH: `${VENV_BIN}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  const keep = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const state: { exited: string | null } = { exited: null };
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      state.exited = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
  });
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  const stop = async () => {
    if (state.exited) return;
    signalGroup('SIGTERM');
    const killer = setTimeout(() => signalGroup('SIGKILL'), 10_000);
    await exit;
    clearTimeout(killer);
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (state.exited) throw new Error(`${args.join(' ')} ${state.exited}:\n${log}`);
    const ok = await fetch(`${url}${readyPath}`).then((r) => r.ok, () => false);
    if (ok) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${args.join(' ')} not ready at ${url}${readyPath}; log tail:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** POST to the MLflow REST API (api/2.0/mlflow/...), failing on a non-2xx answer. */
export async function mlflowPost<T>(url: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${url}/api/2.0/mlflow/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** Downloads an `mlflow-artifacts:/...` URI through the tracking server's artifact proxy. */
export async function downloadProxiedArtifact(url: string, uri: string): Promise<Buffer> {
  const path = uri.replace(/^mlflow-artifacts:\//, '');
  const res = await fetch(`${url}/api/2.0/mlflow-artifacts/artifacts/${path}`);
  if (!res.ok) throw new Error(`GET ${uri}: ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}
