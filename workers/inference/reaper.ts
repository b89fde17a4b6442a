import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { fleetKeys } from '../../lib/fleet/protocol';
import type { InferenceMetrics } from '../../lib/metrics/inference-metrics';
import type { ModelServer } from './model-server';

export interface ReaperOptions {
  redis: Redis;
  prefix: string;
  workerId: string;
  /** Entries are taken over only if delivered at least this long ago (protects against two live workers racing). */
  minIdleMs: number;
  /** Entries taken over per claim. */
  batchSize: number;
  /**
   * An entry pending under this worker's own name for this long is not in any live batch of ours (a batch
   * that takes longer counts as a stuck loop, LOOP_STALL_MS): its read or its reply was lost on the way
   * (seen right after a Redis restart), so it is taken over like a dead worker's.
   */
  abandonedAfterMs: number;
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
  /** Entries pending under this worker's own name for longer than this process has lived were left by an earlier process. */
  private readonly startedAt = Date.now();

  constructor(private readonly opts: ReaperOptions) {}

  async reap(server: ModelServer): Promise<void> {
    const { redis, prefix, workerId, logger } = this.opts;
    // Our own consumer name looks alive to every reaper, so nobody else would ever answer what is pending
    // under it without being in flight here: entries a previous process with the same WORKER_ID left
    // (supervisord restarts it within seconds, before the liveness TTL lets the status key expire; they
    // were delivered before this process started), and entries whose read or reply this process lost.
    if (server.slot.model) await this.takeOver(server, workerId, Math.min(Date.now() - this.startedAt, this.opts.abandonedAfterMs));
    const consumers = (await server.consumer.consumers()).filter((c) => c.name !== workerId);
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

  private async takeOver(server: ModelServer, dead: string, minIdleMs = this.opts.minIdleMs): Promise<void> {
    const { batchSize, metrics, logger } = this.opts;
    for (;;) {
      const claimed = await server.consumer.claimFrom(dead, minIdleMs, batchSize);
      if (claimed.length === 0) return;
      metrics.reclaimed.inc({ model: server.name }, claimed.length);
      logger.warn({ model: server.name, from: dead, count: claimed.length }, 'took over the requests of a dead worker');
      await server.consumer.complete(await server.loop.process(claimed));
      if (claimed.length < batchSize) return;
    }
  }
}
