import type { NativeConnection, Worker } from '@temporalio/worker';

type WorkerStatus = ReturnType<Worker['getStatus']>;

export interface HealthDoc extends Record<string, unknown> {
  ok: boolean;
  state: string;
  connection: 'up' | 'down' | 'unknown';
  reason?: string;
}

/**
 * Liveness: the worker is running (or still starting) and its connection to
 * the Temporal server answered recently. A worker whose run loop ended, or
 * whose server has been unreachable for longer than the grace period, is not
 * healthy: a supervisor should restart it.
 */
export function evaluateHealth(status: WorkerStatus | null, connectionUp: boolean | null): HealthDoc {
  const state = status?.runState ?? 'NOT_CREATED';
  const connection = connectionUp === null ? 'unknown' : connectionUp ? 'up' : 'down';
  if (status && !['INITIALIZED', 'RUNNING'].includes(state)) return { ok: false, state, connection, reason: `worker is ${state}` };
  if (connectionUp === false) return { ok: false, state, connection, reason: 'the Temporal server has not answered' };
  return { ok: true, state, connection };
}

/**
 * Readiness: healthy, running, and polling its task queue (the SDK's poller
 * states: a poller that FAILED, or none polling, means no task can arrive).
 */
export function evaluateReadiness(status: WorkerStatus | null, connectionUp: boolean | null): HealthDoc {
  const health = evaluateHealth(status, connectionUp);
  if (!health.ok) return health;
  if (!status || status.runState !== 'RUNNING') return { ...health, ok: false, reason: 'worker not running yet' };
  if (connectionUp !== true) return { ...health, ok: false, reason: 'Temporal connection not confirmed yet' };
  const pollers = [status.workflowPollerState, status.activityPollerState];
  if (pollers.includes('FAILED')) return { ...health, ok: false, reason: `a poller failed (workflow ${pollers[0]}, activity ${pollers[1]})` };
  if (!pollers.includes('POLLING')) return { ...health, ok: false, reason: 'not polling' };
  return { ...health, pollers: { workflow: pollers[0], activity: pollers[1] } };
}

export interface WorkerHealthOptions {
  probeIntervalMs?: number;
  /** How long the server may stay silent before the connection counts as gone. */
  staleAfterMs?: number;
  now?: () => number;
}

/**
 * Tracks a Temporal worker for /healthz and /readyz: the worker's own status
 * (Worker.getStatus) and a periodic gRPC health check on its connection, so a
 * lost server shows up even while the SDK keeps retrying its polls silently.
 */
export class WorkerHealth {
  private workers: Worker[] = [];
  private lastOk: number | null = null;
  private lastError: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private readonly staleAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly connection: NativeConnection,
    private readonly opts: WorkerHealthOptions = {},
  ) {
    this.staleAfterMs = opts.staleAfterMs ?? 15_000;
    this.now = opts.now ?? Date.now;
  }

  /** The process's workers (one per task queue): it is healthy and ready only when each is. */
  attach(...workers: Worker[]): void {
    this.workers = workers;
  }

  start(): void {
    void this.probe();
    this.timer = setInterval(() => void this.probe(), this.opts.probeIntervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async probe(): Promise<void> {
    try {
      await this.connection.withDeadline(this.now() + 5000, () => this.connection.healthService.check({}));
      this.lastOk = this.now();
      this.lastError = null;
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  private connectionUp(): boolean | null {
    if (this.lastOk === null) return this.lastError === null ? null : false;
    return this.now() - this.lastOk <= this.staleAfterMs;
  }

  health(): HealthDoc {
    return this.worst(evaluateHealth);
  }

  ready(): HealthDoc {
    return this.worst(evaluateReadiness);
  }

  /** The first worker's document that is not ok (named by its task queue when there are several), else the first's. */
  private worst(evaluate: typeof evaluateHealth): HealthDoc {
    const up = this.connectionUp();
    const docs = this.workers.length ? this.workers.map((w) => ({ queue: w.options.taskQueue, doc: evaluate(w.getStatus(), up) })) : [{ queue: '', doc: evaluate(null, up) }];
    const bad = docs.find((d) => !d.doc.ok);
    if (!bad) return docs[0]!.doc;
    const doc = this.workers.length > 1 ? { ...bad.doc, taskQueue: bad.queue } : bad.doc;
    return this.lastError ? { ...doc, error: this.lastError } : doc;
  }
}
