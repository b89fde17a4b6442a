import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** A child process that exited non-zero (or could not start), with the tail of its stderr. */
export class CommandError extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderrTail: string,
  ) {
    super(`${command} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}${stderrTail ? `:\n${stderrTail}` : ''}`);
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called for each stdout line as it arrives (progress streaming). */
  onStdoutLine?: (line: string) => void;
  /** Aborting kills the child (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
  /** How many stderr lines to keep for the error message. */
  stderrTailLines?: number;
}

export interface RunResult {
  stdout: string;
  stderrTail: string;
}

/** Runs a command without a shell, streams stdout lines, and fails with a readable error. */
export function runCommand(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const display = [file, ...args].join(' ');
  const keep = opts.stderrTailLines ?? 40;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdoutLines: string[] = [];
    const stderrLines: string[] = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (opts.onStdoutLine) opts.onStdoutLine(line);
      else stdoutLines.push(line);
    });
    createInterface({ input: child.stderr }).on('line', (line) => {
      stderrLines.push(line);
      if (stderrLines.length > keep) stderrLines.shift();
    });
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (err) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(new CommandError(display, null, null, err.message));
    });
    child.on('close', (code, sig) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      const stderrTail = stderrLines.join('\n');
      if (code === 0) resolve({ stdout: stdoutLines.join('\n'), stderrTail });
      else reject(new CommandError(display, code, sig, stderrTail));
    });
  });
}
