import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { readActiveModel } from '../../lib/fleet/active-models';
import type { RolloutLeases } from '../../lib/fleet/lease';
import type { ModelRef } from '../../lib/fleet/protocol';
import type { ModelRegistryClient } from './model-loader';
import type { ModelDeployer } from './model-deployer';
import type { ModelServer } from './model-server';

export interface ReconcilerOptions {
  redis: RedisClient;
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
 * without anybody's command. It only reads the fleet state (the fleet
 * controller is its one writer):
 * - when no rollout holds the model's lease, the worker converges to the
 *   fleet's `active` version (a worker that started mid-rollout, was left on a
 *   version a failed or abandoned rollout moved it to, or the alias moved);
 * - a worker that serves nothing yet and finds no `active` entry (Redis lost
 *   it, the controller has not rebuilt it yet) loads what the registry's alias
 *   names, so it starts serving without waiting; even while a rollout holds the
 *   lease: it starts on the champion and the rollout moves it.
 */
export class Reconciler {
  private running = new Set<string>();

  constructor(private readonly opts: ReconcilerOptions) {}

  /** One reconciliation of one model; errors are logged, the next tick tries again. */
  async reconcile(server: ModelServer): Promise<void> {
    if (this.running.has(server.name)) return;
    this.running.add(server.name);
    try {
      await this.reconcileOnce(server);
    } catch (err) {
      this.opts.logger.warn({ err, model: server.name }, 'reconciling the served model failed; will retry');
    } finally {
      this.running.delete(server.name);
    }
  }

  private async reconcileOnce(server: ModelServer): Promise<void> {
    const { redis, prefix, leases, deployer, registry, alias, logger } = this.opts;
    const current = server.slot.model?.ref;
    if (current && (await leases.holder(server.name))) return;
    let target: ModelRef | null = await readActiveModel(redis, prefix, server.name);
    if (!target && !current) target = await registry.resolveModelRef(server.name, alias);
    if (!target) return;
    if (current?.sha256 === target.sha256 && current.version === target.version) return;
    if (deployer.recentlyFailed(target.sha256)) return;
    logger.info({ model: server.name, from: current?.version, to: target.version }, 'converging to the fleet active version');
    await deployer.deploy(server, target);
  }
}
