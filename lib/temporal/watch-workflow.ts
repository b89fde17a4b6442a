import { defaultPayloadConverter, type WorkflowHandle } from '@temporalio/client';
import { PROGRESS_QUERY, type WorkflowProgress } from '../lifecycle/progress';
import { renderProgress, type PendingActivity, type WorkflowSnapshot } from '../lifecycle/progress-view';

const QUERY_DEADLINE_MS = 3000;

/**
 * Where a lifecycle workflow is: its `progress` query (the workflow's own
 * account) and its pending activities' latest heartbeat details from
 * `describe()` (the trainer's epochs, the rollout's worker i of n).
 */
export async function snapshot(handle: WorkflowHandle): Promise<WorkflowSnapshot> {
  const description = await handle.describe();
  let progress: WorkflowProgress | null = null;
  try {
    // A query needs a pipeline worker to answer; without one it would wait indefinitely, so it gets a deadline.
    progress = await handle.client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.query<WorkflowProgress>(PROGRESS_QUERY));
  } catch {
    // No worker is polling (or it is an older workflow type): show what describe() knows.
  }
  const pending: PendingActivity[] = (description.raw.pendingActivities ?? []).map((a) => {
    const payload = a.heartbeatDetails?.payloads?.[0];
    let details: unknown = null;
    try {
      details = payload ? defaultPayloadConverter.fromPayload(payload) : null;
    } catch {
      details = null;
    }
    return { type: a.activityType?.name ?? '?', attempt: a.attempt ?? 1, details, lastFailure: a.lastFailure?.message ?? undefined };
  });
  return { workflowId: handle.workflowId, status: description.status.name, progress, pending };
}

/** Writes the view: redrawn in place on a terminal, one line per change otherwise (logs, CI, `make up`). */
export class ProgressPrinter {
  private drawn = 0;
  private readonly seen = new Set<string>();

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {}

  get live(): boolean {
    return this.out.isTTY === true;
  }

  print(lines: string[]): void {
    if (this.live) {
      const width = this.out.columns || 120;
      if (this.drawn) this.out.write(`\x1b[${this.drawn}A`);
      for (const line of lines) this.out.write(`\x1b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}\n`);
      this.drawn = lines.length;
      return;
    }
    // Plain output: each distinct line once (a bar's percentage is dropped, so a training epoch prints once per change of epoch or phase).
    for (const line of lines) {
      const key = line.replace(/\[[█░]+\]\s+\d+%/, '').replace(/\s+\d+\.\d s$/, '');
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.out.write(`${line}\n`);
    }
  }
}

export interface FollowOptions {
  intervalMs?: number;
  printer?: ProgressPrinter;
  /** Resolves when the user wants to stop watching (Ctrl-C): the workflow keeps running. */
  detach?: Promise<void>;
}

/** Follows a workflow until it ends (returns its final snapshot) or the user detaches (returns null). */
export async function follow(handle: WorkflowHandle, opts: FollowOptions = {}): Promise<WorkflowSnapshot | null> {
  const printer = opts.printer ?? new ProgressPrinter();
  let detached = false;
  void opts.detach?.then(() => {
    detached = true;
  });
  for (;;) {
    const snap = await Promise.race([snapshot(handle).catch((err: Error) => ({ error: err })), opts.detach?.then(() => null) ?? new Promise<never>(() => undefined)]);
    if (snap === null) return null;
    if ('error' in snap) {
      printer.print([`(progress unavailable: ${snap.error.message})`]);
    } else {
      printer.print(renderProgress(snap));
      if (snap.status !== 'RUNNING') return snap;
    }
    if (detached) return null;
    await Promise.race([new Promise((r) => setTimeout(r, opts.intervalMs ?? 1000)), opts.detach]);
    if (detached) return null;
  }
}
