import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { fleetKeys, type ActiveModel } from '../../lib/fleet/protocol';
import { parseActiveModel } from '../../lib/model/active-model';

/** No model is being served yet (or the active key is unreadable). */
export class ActiveModelUnavailableError extends Error {
  readonly code = 'NO_ACTIVE_MODEL';
  constructor() {
    super('No model is being served yet');
    this.name = 'ActiveModelUnavailableError';
  }
}

export interface ActiveModelSource {
  /** The served model and its preprocessing metadata, or null. */
  current(): ActiveModel | null;
}

/**
 * Keeps the fleet's active model in memory, re-reading the key about once a
 * second: /predict needs its metadata on every request, Redis need not be asked every time.
 */
export class ActiveModelWatcher implements ActiveModelSource {
  private model: ActiveModel | null = null;
  private lastRaw: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: { redis: Redis; prefix: string; refreshMs: number; logger: Logger }) {}

  current(): ActiveModel | null {
    return this.model;
  }

  /** First read (tolerating a Redis outage), then a refresh every `refreshMs`. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.refreshMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async refresh(): Promise<void> {
    let raw: string | null;
    try {
      raw = await this.opts.redis.get(fleetKeys(this.opts.prefix).active);
    } catch (err) {
      this.opts.logger.warn({ err }, 'reading the active model failed; keeping the last one');
      return;
    }
    if (raw === this.lastRaw) return;
    this.lastRaw = raw;
    if (raw === null) {
      this.model = null;
      return;
    }
    try {
      const next = parseActiveModel(raw);
      if (next.version !== this.model?.version || next.name !== this.model.name) {
        this.opts.logger.info({ model: next.name, version: next.version }, 'active model changed');
      }
      this.model = next;
    } catch (err) {
      // Keep serving with the last good metadata; a broken key is an operator problem, not a reason to go down.
      this.opts.logger.error({ err }, 'the active model key is invalid; keeping the last valid one');
    }
  }
}
