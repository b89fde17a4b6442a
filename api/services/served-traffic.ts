import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import type { TrafficState, WorkerStatus } from '../../lib/fleet/protocol';
import { readTrafficStates } from '../../lib/fleet/traffic-states';
import { listWorkerStatuses, servingModel } from '../../lib/fleet/worker-statuses';
import { periodic } from '../../lib/process/periodic';

export interface TrafficSource {
  /** The traffic plan of `model` to route by, or null (none, or its candidate is not ready on every live worker). */
  get(model: string): TrafficState | null;
  /** The fleet's plan of `model` whether or not it is routed by yet (GET /models shows it). */
  plan?(model: string): { state: TrafficState; routing: boolean } | null;
}

/** Whether every live worker serving `model` holds the plan's candidate, loaded and verified. */
export function candidateReady(statuses: WorkerStatus[], model: string, version: string): boolean {
  const serving = servingModel(statuses, model);
  return serving.length > 0 && serving.every(({ served }) => served.version === version || (served.candidate?.version === version && served.candidate.state === 'ready'));
}

/**
 * The fleet's traffic plans as the API routes by them, re-read with the
 * served models (about once a second). A plan is only routable once every
 * live worker serving the model reports its candidate ready, so no worker is
 * asked for a version it does not hold (one that is asked anyway answers with
 * the champion). When Redis loses the `traffic` hash, or cannot be read, the
 * champion answers everything until the fleet controller rebuilds it.
 */
export class ServedTraffic implements TrafficSource {
  private plans = new Map<string, TrafficState>();
  private all = new Map<string, TrafficState>();
  private loop: { stop(): void } | null = null;

  constructor(private readonly opts: { redis: RedisClient; prefix: string; refreshMs: number; logger: Logger }) {}

  get(model: string): TrafficState | null {
    return this.plans.get(model) ?? null;
  }

  plan(model: string): { state: TrafficState; routing: boolean } | null {
    const state = this.all.get(model);
    return state ? { state, routing: this.plans.has(model) } : null;
  }

  async start(): Promise<void> {
    await this.refresh();
    // refresh() handles its own errors; periodic() only keeps one read at a time on a slow Redis.
    this.loop = periodic(this.opts.refreshMs, () => this.refresh(), (err) => this.opts.logger.debug({ err }, 'refreshing the traffic plans failed'));
  }

  stop(): void {
    this.loop?.stop();
    this.loop = null;
  }

  async refresh(): Promise<void> {
    const { redis, prefix, logger } = this.opts;
    try {
      const states = await readTrafficStates(redis, prefix, (model, err) => logger.error({ err, model }, 'the traffic entry of a model is invalid; the champion answers'));
      const statuses = states.size ? await listWorkerStatuses(redis, prefix) : [];
      const next = new Map<string, TrafficState>();
      for (const [model, state] of states) if (candidateReady(statuses, model, state.version)) next.set(model, state);
      for (const [model, state] of next) {
        const before = this.plans.get(model);
        if (before?.version !== state.version || before.mode !== state.mode || before.share !== state.share) logger.info({ model, version: state.version, mode: state.mode, share: state.share }, 'routing by a traffic plan');
      }
      for (const model of this.plans.keys()) if (!next.has(model)) logger.info({ model }, 'no routable traffic plan; the champion answers every request');
      this.plans = next;
      this.all = states;
    } catch (err) {
      logger.debug({ err }, 'reading the traffic plans failed; the champion answers every request');
      this.plans = new Map();
      this.all = new Map();
    }
  }
}
