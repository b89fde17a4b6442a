/**
 * The live stack the drills break: found exactly as `make` finds it (stackctl with the caller's
 * LIFECYCLE_STATE_DIR / LIFECYCLE_PORT_OFFSET), driven through supervisord (`stack.sh ctl`),
 * and read through its own Redis prefix, MLflow and Temporal.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { connectRedis, type RedisClient } from '../lib/queue/redis-connection';
import { z } from 'zod';
import { MlflowClient } from '../lib/mlflow/client';

const run = promisify(execFile);
export const ROOT = resolve(__dirname, '..');

const envSchema = z.object({
  LIFECYCLE_STATE_DIR: z.string().min(1),
  REDIS_URL: z.string().min(1),
  REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  REDIS_PREFIX: z.string().min(1),
  TEMPORAL_ADDRESS: z.string().min(1),
  MLFLOW_TRACKING_URI: z.string().min(1),
  API_URL: z.string().min(1),
  API_URLS: z.string().min(1),
  STACK_LOGS: z.string().min(1),
});
export type StackEnv = z.infer<typeof envSchema>;

const processSchema = z.object({
  name: z.string(),
  state: z.string(),
  pid: z.number().nullable(),
  restarts: z.number().nullable().optional(),
  endpoint: z.string().optional(),
});
export type StackProcess = z.infer<typeof processSchema>;
const statusSchema = z.object({ supervisord_pid: z.number().nullable(), processes: z.array(processSchema) });

/** One application process of `make up`'s plan (<state>/supervisor/apps.json). */
const planSchema = z.array(
  z.object({ name: z.string(), kind: z.enum(['api', 'inference-worker', 'pipeline-worker', 'training-worker', 'payload-logger']), health: z.string(), ready: z.string() }),
);
export type PlannedProcess = z.infer<typeof planSchema>[number];

/** `export NAME='value'` lines (Python's shlex.quote) into a record. */
export function parseExports(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[2]!;
    out[m[1]!] = raw.startsWith("'") ? raw.slice(1, -1).replace(/'"'"'/g, "'") : raw;
  }
  return out;
}

export class Stack {
  readonly redis: RedisClient;
  readonly mlflow: MlflowClient;
  private connection: Connection | null = null;
  private client: Client | null = null;

  private constructor(
    readonly env: StackEnv,
    readonly plan: PlannedProcess[],
    readonly modelName: string,
  ) {
    // Fails fast while Redis is away (a drill counts errors, it does not queue commands for later).
    this.redis = connectRedis(env, { maxRetriesPerRequest: 2, lazyConnect: false });
    this.mlflow = new MlflowClient({ trackingUri: env.MLFLOW_TRACKING_URI, timeoutMs: 10_000 });
  }

  /** The stack of the caller's LIFECYCLE_STATE_DIR / LIFECYCLE_PORT_OFFSET (as `make status` sees it). */
  static async open(): Promise<Stack> {
    const env = envSchema.parse(parseExports(await stackctl(['env'])));
    let plan: PlannedProcess[] = [];
    try {
      plan = planSchema.parse(JSON.parse(readFileSync(join(env.LIFECYCLE_STATE_DIR, 'supervisor', 'apps.json'), 'utf8')));
    } catch {
      // No plan: `make up` never ran in this state dir; Stack.answers() says so.
    }
    const apiEnv = plan.length > 0 ? readProcessEnv(env.LIFECYCLE_STATE_DIR, 'api-1') : {};
    return new Stack(env, plan, apiEnv.MODEL_NAME ?? process.env.MODEL_NAME ?? 'fashion-mnist-classifier');
  }

  get stateDir(): string {
    return this.env.LIFECYCLE_STATE_DIR;
  }

  get prefix(): string {
    return this.env.REDIS_PREFIX;
  }

  /** Base URLs of the stack's API instances, from the plan `make up` ran (the caller's API_INSTANCES may differ). */
  get apiUrls(): string[] {
    return this.ofKind('api').map((p) => new URL(p.ready).origin);
  }

  /** Planned processes of one kind, in plan order (inference-worker-1, -2, ...). */
  ofKind(kind: PlannedProcess['kind']): PlannedProcess[] {
    return this.plan.filter((p) => p.kind === kind);
  }

  /** Why the stack cannot be drilled, or null when every API answers /readyz as its own instance. */
  async notReady(): Promise<string | null> {
    if (this.plan.length === 0) return `no stack was started in ${this.stateDir}`;
    for (const api of this.ofKind('api')) {
      const res = await fetch(api.ready, { signal: AbortSignal.timeout(3000) }).catch(() => null);
      if (res?.status !== 200) return `${api.name} does not answer ready at ${api.ready}`;
      // Another checkout's stack may hold the port: only this stack's own instance counts.
      const instance = ((await res.json().catch(() => null)) as { instance?: string } | null)?.instance;
      const expected = readProcessEnv(this.stateDir, api.name).API_INSTANCE_ID;
      if (expected && instance !== expected) return `${api.ready} answers as instance ${instance}, not this stack's ${expected}`;
    }
    return null;
  }

  async processes(): Promise<StackProcess[]> {
    return statusSchema.parse(JSON.parse(await stackctl(['status', '--json']))).processes;
  }

  async process(name: string): Promise<StackProcess> {
    const found = (await this.processes()).find((p) => p.name === name);
    if (!found) throw new Error(`the stack runs no process named ${name}`);
    return found;
  }

  /** supervisorctl on this stack (`ctl stop mlflow`). */
  async ctl(...args: string[]): Promise<string> {
    return stackctl(['ctl', ...args]);
  }

  /** Starts a supervised program unless it runs (undo of a drill's `ctl stop`). */
  async ensureRunning(name: string): Promise<void> {
    const p = await this.process(name);
    if (p.state !== 'RUNNING' && p.state !== 'STARTING') await this.ctl('start', name);
  }

  /** The environment `make up` gave a process: extra processes the drills start copy it. */
  processEnv(name: string): Record<string, string> {
    return readProcessEnv(this.stateDir, name);
  }

  async temporal(): Promise<Client> {
    this.connection ??= await Connection.connect({ address: this.env.TEMPORAL_ADDRESS });
    this.client ??= new Client({ connection: this.connection });
    return this.client;
  }

  async close(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    this.redis.disconnect();
  }
}

function readProcessEnv(stateDir: string, name: string): Record<string, string> {
  return z.record(z.string(), z.string()).parse(JSON.parse(readFileSync(join(stateDir, 'supervisor', 'env', `${name}.json`), 'utf8')));
}

/** infra/local/stackctl with the venv's Python (it has supervisor), in the caller's environment. */
export async function stackctl(args: string[]): Promise<string> {
  const python = join(resolve(ROOT, process.env.LIFECYCLE_VENV ?? '.venv'), 'bin', 'python');
  const { stdout } = await run(python, [join(ROOT, 'infra', 'local', 'stackctl'), ...args], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}
