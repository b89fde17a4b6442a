import { readdir, readFile } from 'node:fs/promises';

/**
 * Trainer processes of this stack still alive (their command line names a directory under the
 * stack's training work dir), as "pid: command". A trainer whose worker was killed must not
 * keep running (and training) on its own.
 */
export async function trainerProcesses(stateDir: string): Promise<string[]> {
  const marker = `${stateDir}/training/`;
  const out: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const args = cmdline.split('\0').filter(Boolean);
    if (args.some((a) => a.startsWith(marker)) && args.some((a) => a.endsWith('.py'))) out.push(`${entry}: ${args.join(' ').slice(0, 160)}`);
  }
  return out;
}
