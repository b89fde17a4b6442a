import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { fleetCommandSchema, fleetKeys, parseFleetValue, type FleetCommand } from '../../lib/fleet/protocol';
import type { ModelDeployer } from './model-deployer';
import type { ModelServer } from './model-server';

export interface FleetCommandsOptions {
  /** A dedicated connection in subscriber mode (ioredis resubscribes after reconnecting). */
  subscriber: RedisClient;
  prefix: string;
  workerId: string;
  /** The worker's server for a model (created on demand when the worker may serve it), or null. */
  server: (model: string) => ModelServer | null;
  deployer: ModelDeployer;
  /** A rollout moved the registry alias of `model` and asks the fleet controller to follow it now. */
  onSync: (model: string) => void;
  logger: Logger;
}

/** The worker's end of the rollout protocol: carries out deploy and unload commands addressed to it, and passes sync requests to the fleet controller. */
export class FleetCommands {
  private readonly channel: string;

  constructor(private readonly opts: FleetCommandsOptions) {
    this.channel = fleetKeys(opts.prefix).commands;
  }

  async start(): Promise<void> {
    this.opts.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.channel) this.onMessage(message);
    });
    await this.opts.subscriber.subscribe(this.channel);
  }

  async stop(): Promise<void> {
    await this.opts.subscriber.unsubscribe().catch(() => undefined);
  }

  private onMessage(message: string): void {
    const { logger, workerId, deployer } = this.opts;
    let command: FleetCommand;
    try {
      command = parseFleetValue(fleetCommandSchema, message, 'fleet command');
    } catch (err) {
      logger.warn({ err }, 'ignoring an invalid fleet command');
      return;
    }
    if (command.type === 'sync') {
      this.opts.onSync(command.model);
      return;
    }
    if (command.workerId !== undefined && command.workerId !== workerId) return;
    const model = command.type === 'deploy' ? command.model.name : command.model;
    const server = this.opts.server(model);
    if (!server) return;
    logger.info({ type: command.type, model, deploymentId: command.deploymentId, version: command.type === 'deploy' ? command.model.version : undefined }, 'fleet command received');
    const done = command.type === 'deploy' ? deployer.deploy(server, command.model, command.deploymentId) : deployer.unload(server, command.deploymentId);
    done.catch((err: Error) => logger.error({ err, model }, 'fleet command failed'));
  }
}
