import type { WorkflowHandle } from '@temporalio/client';
import { follow, ProgressPrinter } from '../lib/temporal/watch-workflow';

/**
 * Follows a workflow in the terminal until it ends. Ctrl-C detaches: the
 * workflow keeps running (cancel it with `temporal workflow cancel`).
 * Says how it ended: completed, failed (also cancelled, terminated, timed out) or detached.
 */
export async function followInTerminal(handle: WorkflowHandle): Promise<'completed' | 'failed' | 'detached'> {
  let onSigint: () => void = () => undefined;
  const detach = new Promise<void>((resolve) => {
    onSigint = resolve;
  });
  process.once('SIGINT', onSigint);
  try {
    const end = await follow(handle, { printer: new ProgressPrinter(), detach });
    if (!end) {
      console.log(`\ndetached: ${handle.workflowId} keeps running. Follow it again with: npm run lifecycle -- status --workflow-id ${handle.workflowId} --follow`);
      return 'detached';
    }
    return end.status === 'COMPLETED' ? 'completed' : 'failed';
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

/** Exit code for an ending: detaching is a normal way to leave (0). */
export const exitCodeOf = (end: 'completed' | 'failed' | 'detached'): number => (end === 'failed' ? 1 : 0);
