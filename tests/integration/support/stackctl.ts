import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { ROOT } from './env';

const PYTHON = resolve(ROOT, '.venv/bin/python');
const STACKCTL = resolve(ROOT, 'infra/local/stackctl');

export interface StackctlRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the local stack's control tool (infra/local/stackctl) with `env`, leaving out the variables of
 * the caller's environment that `omit` matches (the settings of the stack running the tests, which must
 * not leak into a stack under test).
 */
export function stackctl(args: string[], env: Record<string, string>, omit: RegExp): Promise<StackctlRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !omit.test(k)));
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [STACKCTL, ...args], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}
