import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REDIS_URL, ROOT, uniqueId } from './support/env';

/** Starts an entry point the way a supervisor would (real process, real signals), collecting its output. */
function startProcess(entry: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry)], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', REDIS_URL, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitForStdout = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!stdout.includes(text)) {
      if (Date.now() > deadline) throw new Error(`no "${text}" in output:\n${stdout}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, exited, waitForStdout, output: () => ({ stdout, stderr }) };
}

describe('process entry points (real processes and signals)', () => {
  it.each([
    ['api/server.ts', { PORT: 'eighty' }, /^api: Invalid configuration:\n {2}PORT: .*\(got "eighty"\)/],
    ['workers/inference-worker.ts', { MAX_BATCH_SIZE: '0' }, /^inference-worker: Invalid configuration:\n {2}MAX_BATCH_SIZE: /],
    ['workers/pipeline-worker.ts', { DEPLOY_TIMEOUT_MS: '-1' }, /^pipeline-worker: Invalid configuration:\n {2}DEPLOY_TIMEOUT_MS: /],
  ])('%s refuses a bad environment with a message naming the variable, and exits 1', async (entry, env, message) => {
    const proc = startProcess(entry, env);
    expect(await proc.exited).toBe(1);
    expect(proc.output().stderr).toMatch(message);
  });

  it('the API drains and exits 0 on SIGTERM', async () => {
    const proc = startProcess('api/server.ts', { PORT: '0', REDIS_PREFIX: `${uniqueId('proc')}:` });
    await proc.waitForStdout('Server listening');
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    expect(proc.output().stdout).toContain('shutting down gracefully');
  });
});
