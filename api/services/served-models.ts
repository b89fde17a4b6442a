import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { readActiveModels } from '../../lib/fleet/active-models';
import type { ActiveModel } from '../../lib/fleet/protocol';
import { periodic } from '../../lib/process/periodic';

/** The model is not served by this fleet (unknown name, or no champion deployed yet). */
export class ModelNotServedError extends Error {
  readonly code: 'MODEL_NOT_FOUND' | 'NO_ACTIVE_MODEL';
  constructor(
    readonly model: string,
    isDefault: boolean,
  ) {
    super(isDefault ? `No version of ${model} is being served yet` : `Model ${model} is not served here; GET /models lists the served models`);
    this.code = isDefault ? 'NO_ACTIVE_MODEL' : 'MODEL_NOT_FOUND';
    this.name = 'ModelNotServedError';
  }
}

export interface ServedModelSource {
  /** The served model `name` with the metadata its input is prepared with, or null. */
  get(name: string): ActiveModel | null;
  list(): ActiveModel[];
}

/**
 * Keeps the fleet's served models in memory, re-reading the `active` hash
 * about once a second: requests need each model's input geometry, Redis need
 * not be asked every time. While Redis is unreachable the last known models
 * are kept; a model that disappears from a reachable Redis stays known for
 * `staleMs` more (the workers rebuild the hash from the registry within
 * seconds after Redis restarts empty), so a Redis restart costs no 404s.
 */
export class ServedModels implements ServedModelSource {
  private models = new Map<string, ActiveModel>();
  private readonly lastSeen = new Map<string, number>();
  private loop: { stop(): void } | null = null;

  constructor(private readonly opts: { redis: RedisClient; prefix: string; refreshMs: number; staleMs?: number; logger: Logger }) {}

  get(name: string): ActiveModel | null {
    return this.models.get(name) ?? null;
  }

  list(): ActiveModel[] {
    return [...this.models.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** First read (tolerating a Redis outage), then a refresh every `refreshMs`. */
  async start(): Promise<void> {
    await this.refresh();
    // refresh() handles its own errors; periodic() only keeps one read at a time on a slow Redis.
    this.loop = periodic(this.opts.refreshMs, () => this.refresh(), (err) => this.opts.logger.debug({ err }, 'refreshing the served models failed'));
  }

  stop(): void {
    this.loop?.stop();
    this.loop = null;
  }

  async refresh(): Promise<void> {
    const { redis, prefix, logger } = this.opts;
    let fresh: Map<string, ActiveModel>;
    try {
      fresh = await readActiveModels(redis, prefix, (model, err) => logger.error({ err, model }, 'the active entry of a model is invalid; keeping the last valid one'));
    } catch (err) {
      logger.debug({ err }, 'reading the served models failed; keeping the last ones');
      return;
    }
    const now = Date.now();
    const next = new Map<string, ActiveModel>();
    for (const [name, model] of fresh) {
      const before = this.models.get(name);
      if (before?.version !== model.version) logger.info({ model: name, version: model.version, from: before?.version }, 'served model version changed');
      next.set(name, model);
      this.lastSeen.set(name, now);
    }
    for (const [name, model] of this.models) {
      if (next.has(name)) continue;
      if (now - (this.lastSeen.get(name) ?? 0) < (this.opts.staleMs ?? 60_000)) next.set(name, model);
      else logger.info({ model: name }, 'model no longer served');
    }
    this.models = next;
  }
}
