import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OwnRedisCluster } from '../support/redis-cluster';
import { stackctl as runStackctl } from './support/stackctl';
import { findPrometheusBinary, freePort } from './support/prometheus';

/**
 * The local stack's control tool (infra/local/stackctl, run by `make up`, `make down`, `make status`
 * and services.sh) on a throw-away state dir and free ports, so it never meets a real stack.
 */
const PORT_VARS = [
  'PORT', 'INFERENCE_METRICS_PORT', 'PIPELINE_METRICS_PORT', 'TRAINING_METRICS_PORT', 'PIPELINE_TEMPORAL_METRICS_PORT',
  'TRAINING_TEMPORAL_METRICS_PORT', 'MLFLOW_PORT', 'TEMPORAL_PORT', 'TEMPORAL_UI_PORT', 'PROMETHEUS_PORT', 'SUPERVISOR_METRICS_PORT',
];
// Settings of the caller's stack (test.sh exports some) that must not leak into the stacks under test.
const STACK_ENV = /^(LIFECYCLE_.*|.*_PORT|PORT|REDIS_URL|REDIS_CLUSTER_NODES|TEMPORAL_ADDRESS|MLFLOW_.*|API_INSTANCES|.*_WORKERS)$/;


const stackctl = (args: string[], env: Record<string, string>) => runStackctl(args, env, STACK_ENV);

/** Every port variable on its own free port, one instance of each kind: a stack that fits anywhere. */
async function freeStack(): Promise<Record<string, string>> {
  const env: Record<string, string> = { API_INSTANCES: '1', INFERENCE_WORKERS: '1', PIPELINE_WORKERS: '1', TRAINING_WORKERS: '1' };
  for (const name of PORT_VARS) env[name] = String(await freePort());
  return env;
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolvePromise(server));
  });
}

const portOf = (server: Server) => (server.address() as { port: number }).port;
const close = (server: Server) => new Promise<void>((r) => server.close(() => r()));

describe('local stack control (infra/local/stackctl)', () => {
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'lc-stack-'));
  });
  afterEach(async () => {
    await stackctl(['down'], { LIFECYCLE_STATE_DIR: state });
    await rm(state, { recursive: true, force: true });
  });

  it("preflight stops when the API port is someone else's, naming the port, its holder and PORT", async () => {
    const dummy = await listen();
    try {
      const env = { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, PORT: String(portOf(dummy)) };
      const run = await stackctl(['check', '--apps', 'redis'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`port ${portOf(dummy)} (api-1 HTTP; moved by PORT) is taken by pid ${process.pid}`);
      expect(run.stderr).toMatch(/`[^`]*node[^`]*`/); // the holder's command line
      expect(run.stderr).toContain('LIFECYCLE_PORT_OFFSET');
    } finally {
      await close(dummy);
    }
  });

  it("preflight stops when MLflow's port is someone else's, naming MLFLOW_PORT", async () => {
    const dummy = await listen();
    try {
      const env = { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, MLFLOW_PORT: String(portOf(dummy)) };
      const run = await stackctl(['check', 'mlflow'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`port ${portOf(dummy)} (MLflow; moved by MLFLOW_PORT`);
      expect(run.stderr).toContain(`pid ${process.pid}`);
    } finally {
      await close(dummy);
    }
  });

  it('refuses zero instances of a process kind, naming each variable', async () => {
    const run = await stackctl(['check', '--apps', 'redis'], { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, INFERENCE_WORKERS: '0', API_INSTANCES: '0' });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('INFERENCE_WORKERS=0');
    expect(run.stderr).toContain('API_INSTANCES=0');
  });

  it('uses a Redis Cluster it is given (REDIS_CLUSTER_NODES): never its own Redis, exported to every process, refused when no seed answers or the list is malformed', async () => {
    const cluster = await OwnRedisCluster.start({ replicas: 0 });
    try {
      const env = { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, REDIS_CLUSTER_NODES: cluster.seeds };
      const check = await stackctl(['check', '--apps', 'redis'], env);
      expect(check.code).toBe(0);
      expect((await stackctl(['env'], env)).stdout).toContain(`export REDIS_CLUSTER_NODES=${cluster.seeds}`);
    } finally {
      await cluster.stop();
    }
    const unreachable = await stackctl(['check', '--apps', 'redis'], { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, REDIS_CLUSTER_NODES: '127.0.0.1:1' });
    expect(unreachable.code).toBe(2);
    expect(unreachable.stderr).toContain('no node of REDIS_CLUSTER_NODES=127.0.0.1:1 answers');
    const malformed = await stackctl(['check', '--apps', 'redis'], { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, REDIS_CLUSTER_NODES: 'redis://127.0.0.1:7000' });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain("REDIS_CLUSTER_NODES='redis://127.0.0.1:7000' is not host:port");
  });

  it('refuses instances whose ports overlap, naming both variables', async () => {
    // Inference worker 3 would listen on INFERENCE_METRICS_PORT+2, which is PORT.
    const env = { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, INFERENCE_WORKERS: '3', INFERENCE_METRICS_PORT: '41000', PORT: '41002' };
    const run = await stackctl(['check', '--apps', 'redis'], env);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('port 41002 is planned twice: inference-worker-3 metrics (INFERENCE_METRICS_PORT (+2 for worker 3)) and api-1 HTTP (PORT)');
  });

  it('writes file_sd targets for every instance, and Prometheus discovers all of them with the job names and process labels', async () => {
    const counts = { API_INSTANCES: '2', INFERENCE_WORKERS: '4', PIPELINE_WORKERS: '1', TRAINING_WORKERS: '2' };
    const env = { LIFECYCLE_STATE_DIR: state, LIFECYCLE_PORT_OFFSET: '30000', ...counts };
    const run = await stackctl(['targets'], env);
    expect(run.code).toBe(0);
    const targets = (job: string) => JSON.parse(readFileSync(join(state, 'prometheus/targets', `${job}.json`), 'utf8')) as { targets: string[]; labels?: Record<string, string> }[];
    expect(targets('api')[0]!.targets).toEqual(['127.0.0.1:38000', '127.0.0.1:38001']);
    expect(targets('inference-worker')[0]!.targets).toEqual(['127.0.0.1:39111', '127.0.0.1:39112', '127.0.0.1:39113', '127.0.0.1:39114']);
    expect(targets('training-worker')[0]!.targets).toEqual(['127.0.0.1:39103', '127.0.0.1:39105']);
    expect(targets('payload-logger')[0]!.targets).toEqual(['127.0.0.1:39181']);

    // The stack's Prometheus runs the repo's prometheus.yml through the link in the state dir.
    const port = await freePort();
    const prometheus: ChildProcess = spawn(findPrometheusBinary(), [
      `--config.file=${join(state, 'prometheus/prometheus.yml')}`, `--storage.tsdb.path=${join(state, 'prometheus/data')}`,
      `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: 'ignore' });
    try {
      type Target = { labels: Record<string, string> };
      let active: Target[] = [];
      const deadline = Date.now() + 30_000;
      // 14 = every instance plus the stack's supervisor event listener; the files load one by one.
      while (active.length < 14 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 300));
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/targets`).catch(() => undefined);
        if (res?.ok) active = ((await res.json()) as { data: { activeTargets: Target[] } }).data.activeTargets;
      }
      const seen = active.map((t) => `${t.labels.job} ${t.labels.instance}${t.labels.process ? ` ${t.labels.process}` : ''}`).sort();
      expect(seen).toEqual([
        'api 127.0.0.1:38000', 'api 127.0.0.1:38001',
        'inference-worker 127.0.0.1:39111', 'inference-worker 127.0.0.1:39112', 'inference-worker 127.0.0.1:39113', 'inference-worker 127.0.0.1:39114',
        'payload-logger 127.0.0.1:39181',
        'pipeline-worker 127.0.0.1:39102',
        'supervisor 127.0.0.1:39191',
        'temporal-sdk 127.0.0.1:39464 pipeline-worker', 'temporal-sdk 127.0.0.1:39465 training-worker', 'temporal-sdk 127.0.0.1:39467 training-worker',
        'training-worker 127.0.0.1:39103', 'training-worker 127.0.0.1:39105',
      ]);
    } finally {
      prometheus.kill('SIGTERM');
    }
  });

  it('restarts a killed service, logs and counts the restart, and `down` stops only what this state dir started', async () => {
    const bystander = await listen();
    // No Redis at REDIS_URL: the stack starts its own there.
    const env = { ...(await freeStack()), LIFECYCLE_STATE_DIR: state, REDIS_URL: `redis://127.0.0.1:${await freePort()}` };
    try {
      const up = await stackctl(['services', 'up', 'redis'], env);
      expect(up.stderr).toBe('');
      expect(up.stdout).toMatch(/redis: started \(pid \d+/);
      type Row = { name: string; state: string; pid: number | null; restarts: number | null };
      const status = async () => (JSON.parse((await stackctl(['status', '--json'], env)).stdout) as { processes: Row[] }).processes;
      const redis = async () => (await status()).find((p) => p.name === 'redis')!;
      const first = await redis();
      expect(first).toMatchObject({ state: 'RUNNING', restarts: 0 });

      process.kill(first.pid!, 'SIGKILL');
      let after = first;
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 300))) {
        after = await redis();
        if (after.state === 'RUNNING' && after.pid !== first.pid) break;
      }
      expect(after).toMatchObject({ state: 'RUNNING', restarts: 1 });
      expect(after.pid).not.toBe(first.pid);
      expect(readFileSync(join(state, 'logs/supervisor-events.log'), 'utf8')).toMatch(/restart redis #1/);
      expect(readFileSync(join(state, 'logs/supervisord.log'), 'utf8')).toMatch(/exited: redis \(terminated by SIGKILL; not expected\)/);

      const down = await stackctl(['down'], env);
      expect(down.code).toBe(0);
      expect(() => process.kill(after.pid!, 0)).toThrow(); // gone
      expect(await status()).toEqual([]);
      expect(bystander.listening).toBe(true); // someone else's listener is never touched
    } finally {
      await close(bystander);
    }
  });
});
