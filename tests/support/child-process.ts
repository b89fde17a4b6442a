import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

export interface RunningProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
  /** Resolves once `text` appears on stdout (pino logs go there). */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
}

/** Starts an entry point the way a supervisor would (real process, real signals), collecting its output. */
export function startProcess(entry: string, env: Record<string, string>): RunningProcess {
  return startProcessWith([process.execPath, '--import', 'tsx', join(ROOT, entry)], env);
}

/** Any command (for example one wrapped in `ip netns exec`), with the same output collection. */
export function startProcessWith(command: string[], env: Record<string, string>): RunningProcess {
  const entry = command.join(' ');
  const child = spawn(command[0]!, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const waitForOutput = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in the output of ${entry}:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
      if (child.exitCode !== null) throw new Error(`${entry} exited with ${child.exitCode}:\n${stdout.slice(-3000)}\n${stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, exited, waitForOutput, output: () => ({ stdout, stderr }) };
}
