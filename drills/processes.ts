/**
 * Processes a drill starts beside the stack (an extra API instance, an extra or separate
 * inference worker, a Redis of its own): real processes, so a drill can kill them with any
 * signal and see whether they exited. Platform processes copy the environment `make up`
 * gave the stack's own process of that kind, so they behave like the stack's.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../lib/process/free-port';
import { onRedis } from '../tests/support/redis-server';
import { waitFor } from './drill';
import { ROOT } from './stack';

export class DrillProcess {
  private output = '';
  private readonly exit: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exit = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** `entry` like 'api/server': the compiled file `make up` built (dist/), else the source through tsx. */
  static platform(name: string, entry: string, env: Record<string, string>): DrillProcess {
    const compiled = join(ROOT, 'dist', `${entry}.js`);
    const args = existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(ROOT, `${entry}.ts`)];
    return DrillProcess.spawn(name, process.execPath, args, { ...env, LOG_LEVEL: 'warn' });
  }

  static spawn(name: string, file: string, args: string[], env: Record<string, string>): DrillProcess {
    return new DrillProcess(name, spawn(file, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  log(): string {
    return this.output;
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exited) this.child.kill(signal);
  }

  /** SIGTERM (graceful), SIGKILL after `graceMs`. */
  async stop(graceMs = 35_000): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exit;
    clearTimeout(timer);
  }

  async waitExit(): Promise<void> {
    await this.exit;
  }
}

/** A redis-server of the drill's own on a free port, keeping nothing on disk: killing it loses everything, as a restart of a cache does. */
export class OwnRedis {
  private server: DrillProcess | null = null;

  private constructor(readonly port: number) {}

  static async start(): Promise<OwnRedis> {
    const redis = new OwnRedis(await freePort());
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.server?.pid ?? -1;
  }

  /** Starts it (empty) on its port and waits until it answers PING. */
  async start(): Promise<void> {
    this.server = DrillProcess.spawn('redis', 'redis-server', ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'no'], {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
    });
    const ok = await waitFor(() => onRedis(this.port, async (redis) => (await redis.ping()) === 'PONG'), 10_000, 50);
    if (ok === null) throw new Error(`redis-server on port ${this.port} did not start:\n${this.server.log()}`);
  }

  async kill(): Promise<void> {
    const server = this.server;
    if (!server || server.exited) return;
    server.kill('SIGKILL');
    await server.waitExit();
  }
}
