import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  fleetKeys,
  WORKER_HEARTBEAT_INTERVAL_MS,
  WORKER_STATUS_TTL_SECONDS,
  type ActiveModel,
  type DeployCommand,
  type ModelRef,
  type WorkerState,
  type WorkerStatus,
} from '../../lib/fleet/protocol';
import { modelRefSchema, parseActiveModel } from '../../lib/model/active-model';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { LoadedModel, ModelRegistryClient } from './model-loader';
import type { ModelSlot } from './model-slot';

const deployCommandSchema = z.object({
  type: z.literal('deploy'),
  deploymentId: z.string().min(1),
  model: modelRefSchema,
  workerId: z.string().optional(),
});

export interface FleetAgentOptions {
  /** Command connection (status, active key). */
  redis: Redis;
  /** Dedicated connection in subscriber mode. */
  subscriber: Redis;
  prefix: string;
  workerId: string;
  slot: ModelSlot;
  load: (ref: ModelRef) => Promise<LoadedModel>;
  registry: Pick<ModelRegistryClient, 'resolveModelRef'>;
  modelName: string;
  modelAlias: string;
  metrics: InferenceMetrics;
  logger: Logger;
  pollIntervalMs: number;
  heartbeatIntervalMs?: number;
}

/**
 * The worker's side of the fleet protocol (lib/fleet/protocol.ts): reports its
 * status with a heartbeat, finds its first model (active key, else the registry
 * alias), and carries out deploy commands one at a time: load and verify beside
 * the served model, then swap; on failure report `failed` and keep serving.
 */
export class FleetAgent {
  private readonly keys: ReturnType<typeof fleetKeys>;
  private status: WorkerStatus;
  private heartbeat: NodeJS.Timeout | null = null;
  private poller: NodeJS.Timeout | null = null;
  /** Deploys run strictly in order; a rollback right after a deploy must not race it. */
  private work: Promise<void> = Promise.resolve();
  private stopped = false;
  private lastPublish: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FleetAgentOptions) {
    this.keys = fleetKeys(opts.prefix);
    this.status = { workerId: opts.workerId, state: 'starting', model: null, updatedAt: Date.now() };
  }

  get current(): WorkerStatus {
    return this.status;
  }

  async start(): Promise<void> {
    const { subscriber, logger } = this.opts;
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.commands) this.onCommand(message);
    });
    await subscriber.subscribe(this.keys.commands);
    await this.publish({});
    this.heartbeat = setInterval(() => {
      this.publish({}).catch((err: Error) => logger.warn({ err }, 'status heartbeat failed'));
    }, this.opts.heartbeatIntervalMs ?? WORKER_HEARTBEAT_INTERVAL_MS);
    this.enqueue(() => this.loadInitialModel());
    this.poller = setInterval(() => {
      if (!this.opts.slot.model && this.status.state !== 'loading') this.enqueue(() => this.loadInitialModel());
    }, this.opts.pollIntervalMs);
  }

  /** Waits for the deploy in progress, if any. */
  async idle(): Promise<void> {
    await this.work;
  }

  /** Reports `draining` (the loop is finishing its last batch). */
  async draining(): Promise<void> {
    await this.publish({ state: 'draining' });
  }

  /** Stops heartbeats and commands and removes the status key, so the fleet stops counting this worker. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.poller) clearInterval(this.poller);
    await this.opts.subscriber.unsubscribe().catch(() => undefined);
    // A heartbeat still in flight would otherwise re-create the key right after the DEL.
    await this.lastPublish.catch(() => undefined);
    await this.opts.redis.del(this.keys.workerStatus(this.opts.workerId)).catch(() => undefined);
  }

  /** Stops timers only (hard stop: the status key is left to expire, like a crashed worker's). */
  halt(): void {
    this.stopped = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.poller) clearInterval(this.poller);
  }

  /** Loads `ref` and swaps it in; resolves either way, the outcome is in the status. */
  async deploy(ref: ModelRef, deploymentId?: string): Promise<boolean> {
    const { slot, logger } = this.opts;
    const serving = slot.model?.ref;
    if (serving && serving.sha256 === ref.sha256 && serving.version === ref.version && serving.name === ref.name) {
      await this.publish({ state: 'ready', deploymentId, error: undefined });
      return true;
    }
    await this.publish({ state: 'loading', deploymentId, error: undefined });
    try {
      const model = await this.opts.load(ref);
      if (this.stopped) {
        await model.runner.release();
        return false;
      }
      slot.swap(model);
      this.opts.metrics.modelInfo.reset();
      this.opts.metrics.modelInfo.set({ name: ref.name, version: ref.version }, 1);
      logger.info({ model: ref.name, version: ref.version, from: serving?.version, deploymentId }, 'model swapped in');
      await this.publish({ state: 'ready', deploymentId, error: undefined });
      return true;
    } catch (err) {
      const error = err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err);
      logger.error({ err, model: ref.name, version: ref.version, deploymentId }, 'model load failed; keeping the served model');
      await this.publish({ state: 'failed', deploymentId, error });
      return false;
    }
  }

  private onCommand(message: string): void {
    let command: DeployCommand;
    try {
      command = deployCommandSchema.parse(JSON.parse(message));
    } catch (err) {
      this.opts.logger.warn({ err }, 'ignoring an invalid fleet command');
      return;
    }
    if (command.workerId !== undefined && command.workerId !== this.opts.workerId) return;
    this.opts.logger.info({ deploymentId: command.deploymentId, version: command.model.version }, 'deploy command received');
    this.enqueue(async () => {
      await this.deploy(command.model, command.deploymentId);
    });
  }

  /** The fleet's active model if there is one, else the registry alias (claimed as active with SET NX). */
  private async loadInitialModel(): Promise<void> {
    if (this.served() || this.stopped) return;
    const { redis, registry, logger } = this.opts;
    const stored = await redis.get(this.keys.active);
    if (stored !== null) {
      let active: ActiveModel;
      try {
        active = parseActiveModel(stored);
      } catch (err) {
        logger.error({ err }, 'the fleet active key is invalid; waiting for a deploy');
        return;
      }
      await this.deploy(active);
      return;
    }
    const ref = await registry.resolveModelRef(this.opts.modelName, this.opts.modelAlias).catch((err: Error) => {
      logger.warn({ err, alias: this.opts.modelAlias }, 'model registry unavailable; waiting for a deploy command');
      return null;
    });
    if (!ref) return;
    if (await this.deploy(ref)) {
      const model = this.served();
      if (!model) return;
      const active: ActiveModel = { ...model.ref, metadata: model.metadata };
      await redis.set(this.keys.active, JSON.stringify(active), 'NX');
    }
  }

  private served(): LoadedModel | null {
    return this.opts.slot.model;
  }

  private enqueue(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch((err: Error) => this.opts.logger.error({ err }, 'fleet task failed'));
  }

  private async publish(change: { state?: WorkerState; deploymentId?: string; error?: string | undefined }): Promise<void> {
    const model = this.opts.slot.model?.ref;
    this.status = {
      ...this.status,
      ...change,
      model: model ? { name: model.name, version: model.version, sha256: model.sha256 } : null,
      updatedAt: Date.now(),
    };
    if ('error' in change && change.error === undefined) delete this.status.error;
    if (this.stopped) return;
    const key = this.keys.workerStatus(this.opts.workerId);
    this.lastPublish = this.opts.redis.set(key, JSON.stringify(this.status), 'EX', WORKER_STATUS_TTL_SECONDS).then(() => undefined);
    await this.lastPublish;
  }
}
