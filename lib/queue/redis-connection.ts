import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisConnectionOptions {
  /** Shown in CLIENT LIST, so an operator can tell the connections of a process apart. */
  name: string;
  logger: Logger;
  /**
   * - `command` (default): fails fast while Redis is unreachable (no offline queue, and a reply
   *   that does not come within `commandTimeoutMs`), so a caller can answer 503 at once instead of waiting.
   * - `blocking`: for XREAD/XREADGROUP BLOCK loops; commands wait for a reconnect, and a
   *   client-side timeout catches a silently dead TCP connection.
   * - `subscriber`: pub/sub; ioredis resubscribes after a reconnect.
   */
  role?: 'command' | 'blocking' | 'subscriber';
  /**
   * Sends the commands issued in one tick as one write (the API's many concurrent enqueues).
   * Off by default: ioredis's auto-pipelining mangles `call`/`callBuffer` (used for XCLAIM).
   */
  autoPipelining?: boolean;
  /**
   * `command` role: how long a command may wait for its reply (the API: REDIS_COMMAND_TIMEOUT_MS). A Redis
   * host that stops answering without closing the connection (a network partition: packets vanish, no
   * reset arrives) would otherwise keep a command, and the HTTP request behind it, waiting as long as TCP
   * retransmits (minutes), past every deadline. Not for processes whose event loop a model load blocks
   * for seconds (inference workers): ioredis's timer would then fire before the reply is read.
   */
  commandTimeoutMs?: number;
}

/** How long past its BLOCK time a blocking read's reply may be late before the connection is presumed dead. */
export const BLOCKING_READ_GRACE_MS = 10_000;

/** Reconnect quickly: service must resume within about a second of Redis coming back. */
const retryStrategy = (times: number): number => Math.min(100 * times, 1000);

/** One ioredis connection with the settings every serving process uses. */
export function createRedisConnection(url: string, opts: RedisConnectionOptions): Redis {
  const role = opts.role ?? 'command';
  const redis = new Redis(url, {
    connectionName: opts.name,
    connectTimeout: 2000,
    retryStrategy,
    ...(role === 'command'
      ? { enableOfflineQueue: false, maxRetriesPerRequest: 1, enableAutoPipelining: opts.autoPipelining ?? false, commandTimeout: opts.commandTimeoutMs }
      : {}),
    // The client-side timer of a blocking read only catches a silently dead connection: when it fires, ioredis
    // resolves the read with null and drops a reply that is already on its way, although Redis has moved the
    // entries into our pending list. ioredis's default grace (100 ms past BLOCK) is shorter than an event loop
    // stays busy with a model load or a synchronous run, so the grace is set far beyond any such pause.
    ...(role === 'blocking' ? { maxRetriesPerRequest: null, blockingTimeout: 30_000, blockingTimeoutGrace: BLOCKING_READ_GRACE_MS } : {}),
  });
  let down = false;
  // Without a listener ioredis prints every connection error to stderr; reconnects are automatic.
  redis.on('error', (err: Error) => {
    if (!down) opts.logger.warn({ err, connection: opts.name }, 'redis connection error');
    down = true;
  });
  redis.on('ready', () => {
    if (down) opts.logger.info({ connection: opts.name }, 'redis connection restored');
    down = false;
  });
  return redis;
}

/** Resolves once the connection is ready, or after `timeoutMs` (the caller works on: Redis may come later). */
export async function waitUntilReady(redis: Redis, timeoutMs: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, timeoutMs);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
