import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { readActiveModel, writeActiveModel, writeActiveModelIfMissing } from '../../lib/fleet/active-models';
import type { RolloutLeases } from '../../lib/fleet/lease';
import type { ActiveModel } from '../../lib/fleet/protocol';
import type { ModelRegistryClient } from './model-loader';
import type { ModelDeployer } from './model-deployer';
import type { ModelServer } from './model-server';

export interface ReconcilerOptions {
  redis: Redis;
  prefix: string;
  leases: RolloutLeases;
  registry: Pick<ModelRegistryClient, 'resolveModelRef'>;
  /** The registry alias that names what should be served (champion). */
  alias: string;
  deployer: ModelDeployer;
  logger: Logger;
}

/**
 * Brings each model a worker serves to the version the fleet should serve,
 * without anybody's command:
 * - when no rollout holds the model's lease, the worker converges to the
 *   fleet's `active` version (a worker that started mid-rollout, or was left
 *   on a version a failed rollout abandoned);
 * - when Redis lost the `active` entry (restart without persistence,
 *   failover, FLUSHALL), the registry's alias is the truth: the worker loads
 *   it and records it again (HSETNX, so concurrent workers agree);
 * - now and then the registry is compared with `active`, so a champion moved
 *   by hand in MLflow is served too.
 * A worker that serves nothing yet loads even while a rollout holds the lease:
 * it starts on what the registry calls champion, and the rollout moves it.
 */
export class Reconciler {
  private running = new Set<string>();
  private lastRegistryCheck = new Map<string, number>();

  constructor(private readonly opts: ReconcilerOptions) {}

  /** One reconciliation of one model; errors are logged, the next tick tries again. */
  async reconcile(server: ModelServer, registryCheckIntervalMs = Infinity): Promise<void> {
    if (this.running.has(server.name)) return;
    this.running.add(server.name);
    try {
      await this.reconcileOnce(server, registryCheckIntervalMs);
    } catch (err) {
      this.opts.logger.warn({ err, model: server.name }, 'reconciling the served model failed; will retry');
    } finally {
      this.running.delete(server.name);
    }
  }

  private async reconcileOnce(server: ModelServer, registryCheckIntervalMs: number): Promise<void> {
    const { redis, prefix, leases, deployer } = this.opts;
    const serving = server.slot.model?.ref;
    if (serving && (await leases.holder(server.name))) return;

    let active = await readActiveModel(redis, prefix, server.name);
    const now = Date.now();
    const registryDue = now - (this.lastRegistryCheck.get(server.name) ?? 0) >= registryCheckIntervalMs;
    if (!active || registryDue) {
      this.lastRegistryCheck.set(server.name, now);
      const fromRegistry = await this.fromRegistry(server, active);
      if (fromRegistry) active = fromRegistry;
    }
    if (!active) return;
    const current = server.slot.model?.ref;
    if (current?.sha256 === active.sha256 && current.version === active.version) return;
    if (deployer.recentlyFailed(active.sha256)) return;
    this.opts.logger.info({ model: server.name, from: current?.version, to: active.version }, 'converging to the fleet active version');
    await deployer.deploy(server, active);
  }

  /**
   * The registry's alias as the fleet's active entry: loaded (and so verified) on this worker first,
   * then written if missing, or overwritten when it differs from what `active` says.
   */
  private async fromRegistry(server: ModelServer, active: ActiveModel | null): Promise<ActiveModel | null> {
    const { redis, prefix, registry, alias, deployer, leases, logger } = this.opts;
    const ref = await registry.resolveModelRef(server.name, alias);
    if (!ref || (active && active.version === ref.version && active.sha256 === ref.sha256)) return null;
    if (deployer.recentlyFailed(ref.sha256)) return null;
    if (!(await deployer.deploy(server, ref))) return null;
    const loaded = server.slot.model;
    if (!loaded || loaded.ref.sha256 !== ref.sha256) return null;
    const entry: ActiveModel = { ...ref, metadata: loaded.metadata };
    if (!active) {
      await writeActiveModelIfMissing(redis, prefix, entry);
      logger.info({ model: ref.name, version: ref.version, alias }, 'rebuilt the fleet active version from the registry');
    } else if (!(await leases.holder(server.name))) {
      await writeActiveModel(redis, prefix, entry);
      logger.info({ model: ref.name, from: active.version, to: ref.version, alias }, 'registry alias moved outside a rollout; following it');
    }
    return readActiveModel(redis, prefix, server.name);
  }
}
