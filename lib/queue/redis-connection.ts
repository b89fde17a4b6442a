import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';

/**
 * A connection to the transport: one Redis, or a Redis Cluster (REDIS_CLUSTER_NODES). Both speak the same
 * commands; what differs is that on a cluster every script, MULTI and pipeline must touch keys of one slot
 * (the hash tags of lib/queue/keys.ts, lib/fleet/protocol.ts and lib/payload-log/keys.ts make sure of it).
 */
export type RedisClient = Redis | Cluster;

/** Where the transport is: the settings every process reads (lib/env.ts commonSchema). */
export interface RedisTarget {
  REDIS_URL: string;
  REDIS_CLUSTER_NODES?: string | undefined;
}

/** The cluster's seed nodes, or null for a single Redis. */
export function clusterNodesOf(target: RedisTarget): Array<{ host: string; port: number }> | null {
  if (!target.REDIS_CLUSTER_NODES) return null;
  return target.REDIS_CLUSTER_NODES.split(',').map((node) => {
    const at = node.lastIndexOf(':');
    return { host: node.slice(0, at), port: Number(node.slice(at + 1)) };
  });
}

export const isCluster = (redis: RedisClient): redis is Cluster => redis instanceof Cluster;

/**
 * A client of `target` with `options` (ioredis's, per connection). On a cluster the per-node options go to
 * every node connection, REDIS_URL lends its username, password and TLS (`rediss:`), and a node that fails
 * over is followed (slots refreshed, commands retried on the new master within ioredis's redirection bounds).
 */
export function connectRedis(target: RedisTarget, options: RedisOptions = {}): RedisClient {
  const nodes = clusterNodesOf(target);
  if (!nodes) return new Redis(target.REDIS_URL, options);
  const url = new URL(target.REDIS_URL);
  const { enableOfflineQueue, retryStrategy, lazyConnect, enableAutoPipelining, ...perNode } = options;
  const clusterOptions: ClusterOptions = {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining,
    clusterRetryStrategy: retryStrategy ? (times) => retryStrategy(times) : undefined,
    // A failover takes the cluster its node timeout plus an election (2.4-2.7 s measured with a 1 s timeout); a
    // command hitting it is retried every 200 ms up to maxRedirections (16) times, about 3 s, instead of failing.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    redisOptions: {
      ...perNode,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
    },
  };
  return new Cluster(nodes, clusterOptions);
}

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

/** One ioredis connection (or cluster client) with the settings every serving process uses. */
export function createRedisConnection(target: RedisTarget, opts: RedisConnectionOptions): RedisClient {
  const role = opts.role ?? 'command';
  const redis = connectRedis(target, {
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
export async function waitUntilReady(redis: RedisClient, timeoutMs: number): Promise<boolean> {
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
