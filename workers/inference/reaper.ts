import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { fleetKeys } from '../../lib/fleet/protocol';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { ModelServer } from './model-server';

export interface ReaperOptions {
  redis: RedisClient;
  prefix: string;
  workerId: string;
  /** Entries are taken over only if delivered at least this long ago (protects against two live workers racing). */
  minIdleMs: number;
  /** Entries taken over per claim. */
  batchSize: number;
  metrics: InferenceMetrics;
  logger: Logger;
}

/**
 * Takes over the requests of dead workers. A consumer of a model's stream
 * whose worker status key has expired (the process died, froze, or its loop
 * stuck) has its pending entries claimed and answered here at once, well
 * before their deadline, and is then removed from the group. This replaces
 * an idle-time-only XAUTOCLAIM, which cannot tell a slow live worker from a
 * dead one and so has to wait longer than a request lives.
 */
export class Reaper {
  constructor(private readonly opts: ReaperOptions) {}

  async reap(server: ModelServer): Promise<void> {
    const { redis, prefix, workerId, logger } = this.opts;
    const all = await server.consumer.consumers();
    // More pending under our own name than we are working on: a delivery or reply was lost on the way (or a
    // previous process under this WORKER_ID left entries). The consumer reads them again from its history.
    const own = all.find((c) => c.name === workerId);
    if (own && own.pending > server.consumer.holding) server.consumer.checkOwnPending();
    const consumers = all.filter((c) => c.name !== workerId);
    if (consumers.length === 0) return;
    const alive = await redis.mget(...consumers.map((c) => fleetKeys(prefix).workerStatus(c.name)));
    for (const [i, consumer] of consumers.entries()) {
      if (alive[i] !== null) continue;
      if (consumer.pending > 0) {
        // Claiming needs a loaded model to answer with; until then another worker (or we, later) will.
        if (!server.slot.model) continue;
        await this.takeOver(server, consumer.name);
      } else if (await server.consumer.removeConsumer(consumer.name)) {
        logger.info({ model: server.name, consumer: consumer.name }, 'removed a dead worker from the consumer group');
      }
    }
  }

  private async takeOver(server: ModelServer, dead: string): Promise<void> {
    const { batchSize, metrics, logger, minIdleMs } = this.opts;
    for (;;) {
      const claimed = await server.consumer.claimFrom(dead, minIdleMs, batchSize);
      if (claimed.length === 0) return;
      metrics.reclaimed.inc({ model: server.name }, claimed.length);
      logger.warn({ model: server.name, from: dead, count: claimed.length }, 'took over the requests of a dead worker');
      try {
        await server.consumer.complete(await server.loop.process(claimed));
      } catch (err) {
        // Now pending under our name: our next read recovers them from our own pending list.
        server.consumer.giveBack(claimed);
        throw err;
      }
      if (claimed.length < batchSize) return;
    }
  }
}
