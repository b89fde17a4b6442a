import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisConnectionOptions {
  /** Shown in CLIENT LIST, so an operator can tell the connections of a process apart. */
  name: string;
  logger: Logger;
  /**
   * For connections that run blocking reads (XREAD/XREADGROUP BLOCK): commands
   * wait for a reconnect instead of failing after a few retries, and a
   * client-side timeout catches a silently dead TCP connection.
   */
  blocking?: boolean;
}

/** One ioredis connection with the settings every serving process uses. */
export function createRedisConnection(url: string, opts: RedisConnectionOptions): Redis {
  const redis = new Redis(url, {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.blocking ? null : 3,
    ...(opts.blocking ? { blockingTimeout: 30_000 } : {}),
  });
  // Without a listener ioredis prints every connection error to stderr; reconnects are automatic.
  redis.on('error', (err: Error) => opts.logger.warn({ err, connection: opts.name }, 'redis connection error'));
  return redis;
}
