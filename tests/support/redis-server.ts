import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../lib/process/free-port';


/**
 * A redis-server of the test's own, on its own port, keeping nothing on disk
 * (as a cache Redis often runs): it can be killed and restarted empty without
 * touching the machine's shared Redis.
 */
export class OwnRedis {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** (Re)starts the server, empty, and waits until it answers. */
  async restart(): Promise<void> {
    this.process = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    await waitForRedis(this.port);
  }

  /** SIGKILL: everything it held is gone. */
  async kill(): Promise<void> {
    if (this.process) await killAndWait(this.process);
  }
}

/**
 * Runs `fn` on a one-shot connection to the Redis at `target` (a loopback port, or a URL) and disconnects:
 * no retries and no error events, so a Redis that is down or gone rejects at once.
 */
export async function onRedis<T>(target: number | string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null };
  const redis = typeof target === 'number' ? new Redis(target, '127.0.0.1', options) : new Redis(target, options);
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

/** Waits until the redis-server on `port` (127.0.0.1) answers PING; fails after `timeoutMs`. */
export async function waitForRedis(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await onRedis(port, (redis) => redis.ping()).then(() => true, () => false))) {
    if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** SIGKILLs `child` (unless it already ended) and resolves once it has exited. */
export async function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}
