import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from './support/env';

/**
 * `make up`'s first step (infra/local/versions.sh): a wrong Node.js or Python is refused before anything
 * is installed or started, naming the version found and the one needed. Fake `node` and `python3`
 * first on PATH stand in for another machine's; the real ones of this machine pass.
 */
const SCRIPT = resolve(ROOT, 'infra/local/versions.sh');

function run(path: string, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn('/bin/bash', [SCRIPT], { env: { ...process.env, PYTHON: '', ...env, PATH: path }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stderr }));
  });
}

describe('make up checks the Node.js and Python versions first (infra/local/versions.sh)', () => {
  const bin = mkdtempSync(join(tmpdir(), 'lc-versions-'));
  const fake = (name: string, version: string) => {
    // `python3 -c ...` prints the bare version, `--version` the usual banner; node prints v<version>.
    writeFileSync(join(bin, name), `#!/bin/sh\ncase "$1" in -c) echo ${version} ;; *) echo ${name === 'node' ? 'v' : 'Python '}${version} ;; esac\n`);
    chmodSync(join(bin, name), 0o755);
  };
  const pathWithFakes = `${bin}:${process.env.PATH ?? ''}`;
  afterAll(() => rm(bin, { recursive: true, force: true }));

  it('passes with the Node.js and Python of this machine', async () => {
    expect(await run(process.env.PATH ?? '')).toEqual({ code: 0, stderr: '' });
  });

  it('refuses Node.js 18 and Python 3.9, naming what it found, where, and what is needed', async () => {
    fake('node', '18.19.0');
    fake('python3', '3.9.2');
    const { code, stderr } = await run(pathWithFakes);
    expect(code).toBe(2);
    expect(stderr).toContain(`Node.js 20 or newer is needed: found 18.19.0 at ${bin}/node`);
    expect(stderr).toContain(`Python 3.11 to 3.13 is needed for the venv: found 3.9.2 at ${bin}/python3`);
  });

  it('refuses a Python newer than the pinned wheels support, and reads PYTHON for the interpreter', async () => {
    fake('node', '22.1.0');
    fake('python3.14', '3.14.0');
    const { code, stderr } = await run(pathWithFakes, { PYTHON: 'python3.14' });
    expect(code).toBe(2);
    expect(stderr).not.toContain('Node.js');
    expect(stderr).toContain(`found 3.14.0 at ${bin}/python3.14`);
  });

  it('says so when there is no node at all', async () => {
    const { code, stderr } = await run(`${bin}-missing:/usr/sbin`, { PYTHON: '/bin/false' });
    expect(code).toBe(2);
    expect(stderr).toContain('Node.js 20 or newer is needed: no `node` on PATH');
  });
});
