import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { NativeConnection, Worker } from '@temporalio/worker';
import { Registry } from 'prom-client';
import { startMetricsServer, type MetricsServer } from '../metrics/metrics-server';
import { quietRuntime } from '../../tests/workflows/test-env';
import { WorkerHealth, evaluateHealth, evaluateReadiness } from './worker-health';

// Starts a real dev server and worker: seconds, not jest's 5 s default.
jest.setTimeout(90_000);

type Status = ReturnType<Worker['getStatus']>;
const status = (over: Partial<Status> = {}): Status =>
  ({ runState: 'RUNNING', workflowPollerState: 'POLLING', activityPollerState: 'POLLING', ...over }) as Status;

describe('worker health rules', () => {
  it('is ready when running, connected and polling', () => {
    expect(evaluateReadiness(status(), true)).toMatchObject({ ok: true });
  });

  it('is alive but not ready while starting', () => {
    expect(evaluateHealth(null, null).ok).toBe(true);
    expect(evaluateReadiness(null, null)).toMatchObject({ ok: false, reason: 'worker not running yet' });
  });

  it('is not ready when a poller failed', () => {
    expect(evaluateReadiness(status({ activityPollerState: 'FAILED' }), true)).toMatchObject({ ok: false });
  });

  it('is not alive once the worker stopped or the server is gone', () => {
    expect(evaluateHealth(status({ runState: 'STOPPED' }), true)).toMatchObject({ ok: false, reason: 'worker is STOPPED' });
    expect(evaluateHealth(status(), false)).toMatchObject({ ok: false, connection: 'down' });
  });
});

/** /healthz and /readyz of a real worker against a real (then killed) dev server. */
describe('worker /healthz and /readyz (real worker, real server)', () => {
  let server: ChildProcess;
  let connection: NativeConnection;
  let worker: Worker;
  let running: Promise<void>;
  let health: WorkerHealth;
  let http: MetricsServer;
  const probe = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${http.port}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const eventually = async (path: string, want: number) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const r = await probe(path);
      if (r.status === want || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  beforeEach(async () => {
    quietRuntime();
    const port = await freePort();
    server = spawn(join(__dirname, '../../.venv/bin/temporal'), ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'error'], {
      stdio: 'ignore',
    });
    connection = await connectWithRetry(`127.0.0.1:${port}`);
    health = new WorkerHealth(connection, { probeIntervalMs: 200, staleAfterMs: 1000 });
    health.start();
    http = await startMetricsServer({ registry: new Registry(), host: '127.0.0.1', port: 0, health: () => health.health(), ready: () => health.ready() });
    worker = await Worker.create({ connection, taskQueue: 'health', activities: { noop: () => Promise.resolve() } });
    health.attach(worker);
    running = worker.run();
  });

  afterEach(async () => {
    health.stop();
    await http.close();
    if (worker.getStatus().runState === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await connection.close().catch(() => undefined);
    server.kill('SIGKILL');
  });

  it('is ready while polling, and neither alive nor ready once the worker stopped', async () => {
    expect((await eventually('/readyz', 200)).status).toBe(200);
    worker.shutdown();
    await running;
    expect(await probe('/healthz')).toMatchObject({ status: 503, body: { ok: false, state: 'STOPPED' } });
    expect((await probe('/readyz')).status).toBe(503);
  });

  it('fails both probes when the Temporal server goes away', async () => {
    expect((await eventually('/readyz', 200)).status).toBe(200);
    server.kill('SIGKILL');
    expect(await eventually('/healthz', 503)).toMatchObject({ status: 503, body: { ok: false, connection: 'down' } });
    expect((await probe('/readyz')).status).toBe(503);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function connectWithRetry(address: string): Promise<NativeConnection> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      return await NativeConnection.connect({ address });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}
