import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');


/** A process of the platform (API or inference worker) started by the benchmark, as the stack starts them. */
export class BenchProcess {
  private output = '';
  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    child.stderr?.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
  }

  /** `entry` like 'api/server' or 'workers/inference-worker': the compiled one (`make up` builds dist/) if present. */
  static start(name: string, entry: string, env: Record<string, string>): BenchProcess {
    const compiled = join(ROOT, 'dist', `${entry}.js`);
    const args = existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(ROOT, `${entry}.ts`)];
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new BenchProcess(name, child);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  log(): string {
    return this.output;
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(timer);
  }
}

/** Polls `check` until it is true; fails with `what` (and the processes' logs) after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, processes: BenchProcess[] = []): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    const dead = processes.find((p) => p.exited);
    if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.log()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${processes.map((p) => `--- ${p.name}\n${p.log()}`).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
