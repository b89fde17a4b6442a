import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { fleetKeys, type CandidateStatus, type ServedModelStatus, type WorkerState, type WorkerStatus } from '../../lib/fleet/protocol';
import { publishWorkerStatus } from '../../lib/fleet/worker-statuses';

export interface StatusReporterOptions {
  redis: RedisClient;
  prefix: string;
  workerId: string;
  /** The status key expires this long after the last heartbeat (the worker's liveness). */
  ttlMs: number;
  /** False while the worker cannot do its job (a stuck loop): the heartbeat stops so others reclaim its requests. */
  alive: () => boolean;
  logger: Logger;
}

/**
 * Publishes the worker's status under its key with a short TTL, on every
 * change and on a heartbeat every quarter TTL. The key doubles as liveness:
 * when the process dies, freezes or its loop sticks, the key expires within
 * the TTL and live workers take over its pending requests.
 */
export class StatusReporter {
  private status: WorkerStatus;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private last: Promise<void> = Promise.resolve();
  private readonly key: string;

  constructor(private readonly opts: StatusReporterOptions) {
    this.key = fleetKeys(opts.prefix).workerStatus(opts.workerId);
    const now = Date.now();
    this.status = { workerId: opts.workerId, state: 'starting', models: {}, startedAt: now, updatedAt: now };
  }

  get current(): WorkerStatus {
    return this.status;
  }

  start(): void {
    this.timer = setInterval(() => {
      this.publish().catch((err: Error) => this.opts.logger.debug({ err }, 'status heartbeat failed'));
    }, Math.max(50, Math.floor(this.opts.ttlMs / 4)));
  }

  /** Publishes the status now (Redis came back, possibly empty: the fleet should see this worker at once, not at the next heartbeat). */
  async refresh(): Promise<void> {
    await this.publish();
  }

  async setState(state: WorkerState): Promise<void> {
    this.status = { ...this.status, state };
    await this.publish();
  }

  /** Replaces what the status says about one model (fields left out are removed, except the candidate: see setCandidate). */
  async setModel(name: string, served: ServedModelStatus): Promise<void> {
    const candidate = this.status.models[name]?.candidate;
    this.status = { ...this.status, models: { ...this.status.models, [name]: candidate && !served.candidate ? { ...served, candidate } : served } };
    await this.publish();
  }

  /** Sets (or with undefined removes) the traffic plan's candidate of a served model; the champion's part is left as it is. */
  async setCandidate(name: string, candidate: CandidateStatus | undefined): Promise<void> {
    const served = this.status.models[name];
    if (!served) return;
    const { candidate: _previous, ...rest } = served;
    this.status = { ...this.status, models: { ...this.status.models, [name]: candidate ? { ...rest, candidate } : rest } };
    await this.publish();
  }

  async setAcceptsNewModels(accepts: boolean): Promise<void> {
    if (this.status.acceptsNewModels === accepts) return;
    this.status = { ...this.status, acceptsNewModels: accepts };
    await this.publish();
  }

  async removeModel(name: string): Promise<void> {
    const { [name]: _gone, ...models } = this.status.models;
    this.status = { ...this.status, models };
    await this.publish();
  }

  /** Stops the heartbeat and deletes the key, so the fleet stops counting this worker at once (clean shutdown). */
  async stop(): Promise<void> {
    this.halt();
    // A heartbeat still in flight would otherwise re-create the key right after the DEL.
    await this.last.catch(() => undefined);
    await this.opts.redis.multi().del(this.key).srem(fleetKeys(this.opts.prefix).workers, this.opts.workerId).exec().catch(() => undefined);
  }

  /** Stops the heartbeat only: the key expires like a crashed worker's (hard stop). */
  halt(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async publish(): Promise<void> {
    if (this.stopped || !this.opts.alive()) return;
    this.status = { ...this.status, updatedAt: Date.now() };
    this.last = publishWorkerStatus(this.opts.redis, this.opts.prefix, this.status, this.opts.ttlMs);
    await this.last;
  }
}
