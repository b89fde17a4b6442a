import { dirname, join } from 'node:path';
import { CommandError, runCommand } from '../process/run';
import type { Checkout, DatasetDeps } from './checkout';

export interface RemoteCheck {
  complete: boolean;
  /** The check's one-line summary (e.g. "remote: missing 12 of 70000 objects of ..."). */
  message: string;
}

/**
 * Asks the DVC remote whether it holds every object of the checked-out pointer,
 * without downloading any (scripts/dataset/dvc-objects-check.py: `dvc fetch` and
 * `dvc status` cannot say "complete" reliably). Exit 1 = incomplete; other
 * failures (remote unreachable) throw and are retried by the caller.
 */
export async function checkRemote(checkout: Checkout, deps: DatasetDeps): Promise<RemoteCheck> {
  if (!deps.remoteCheckScript) return { complete: true, message: 'remote not checked (no check script configured)' };
  const python = deps.python ?? join(dirname(deps.dvcBin), 'python');
  const lines: string[] = [];
  const args = [deps.remoteCheckScript, '--dvc-root', checkout.dvcRoot, '--where', 'remote', checkout.pointer];
  try {
    await runCommand(python, args, { onStdoutLine: (line) => lines.push(line) });
    return { complete: true, message: lines.join(' ').trim() };
  } catch (err) {
    if (err instanceof CommandError && err.exitCode === 1) return { complete: false, message: lines.join(' ').trim() || 'the DVC remote lacks objects' };
    throw err;
  }
}
