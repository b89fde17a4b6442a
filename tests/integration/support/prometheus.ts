import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../../lib/process/free-port';

export { freePort };

/** The JSON envelope of Prometheus's HTTP API (`/api/v1/...`). */
export interface PromResponse<T = unknown> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

export interface QueryData {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  result: { metric: Record<string, string>; value?: [number, string] }[] | [number, string];
}

export interface RuleGroupsData {
  groups: { name: string; file: string; rules: { name: string; query: string; health: string; lastError?: string; lastEvaluation: string; type: string }[] }[];
}

export interface RunningPrometheus {
  url: string;
  query(expr: string): Promise<PromResponse<QueryData>>;
  rules(): Promise<PromResponse<RuleGroupsData>>;
  /** Polls `check` every 250 ms until it returns true; fails after `timeoutMs` with `what` and the server's log tail. */
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'install it (Debian/Ubuntu: `apt-get install -y --no-install-recommends prometheus`) or put the binary on PATH';

/** An executable of the Prometheus package (`prometheus`, `promtool`) on PATH; throws a clear error when there is none. */
export function findPrometheusBinary(name: 'prometheus' | 'promtool' = 'prometheus'): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  throw new Error(`No \`${name}\` binary on PATH: ${INSTALL_HINT}.`);
}


/**
 * Starts a real Prometheus server on a free loopback port with `config` (a parsed
 * prometheus.yml), a throw-away TSDB, and waits until it reports ready.
 */
export async function startPrometheus(config: Record<string, unknown>, opts: { readyTimeoutMs?: number } = {}): Promise<RunningPrometheus> {
  const bin = findPrometheusBinary('prometheus');
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, stringify(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  let log = '';
  const child: ChildProcess = spawn(
    bin,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keepTail = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
  });

  const api = async <T>(path: string): Promise<PromResponse<T>> => {
    const res = await fetch(`${url}${path}`);
    return (await res.json()) as PromResponse<T>;
  };

  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`prometheus ${exited} while waiting for ${what}:\n${log}`);
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}; prometheus log tail:\n${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  const stop = async () => {
    if (!exited) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await waitFor('/-/ready', async () => (await fetch(`${url}/-/ready`)).ok, opts.readyTimeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    url,
    query: (expr) => api<QueryData>(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    rules: () => api<RuleGroupsData>('/api/v1/rules'),
    waitFor,
    stop,
  };
}
