import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

interface ClusterNode {
  port: number;
  process: ChildProcess;
}

/** Whether `port` can be bound on 127.0.0.1 right now. */
const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

/**
 * `count` ports whose cluster-bus ports (port + 10000) are free too. Both below 30000, so neither lies in the
 * ephemeral range (32768 and up) where an outgoing connection could take it between this check and the bind.
 */
async function clusterPorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 9_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    const free = await Promise.all(ports.flatMap((p) => [portIsFree(p), portIsFree(p + 10_000)]));
    if (free.every(Boolean)) return ports;
  }
  throw new Error('no free range of Redis Cluster ports found');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A one-shot connection to one node (no retries, errors surface as rejections instead of events). */
function nodeConnection(port: number): Redis {
  const redis = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}

/**
 * A Redis Cluster of the test's own: `masters` masters with `replicas` replica each, Debian's redis-server in
 * cluster mode on loopback ports, nothing persisted (as a cache cluster often runs). Node timeout 1 s, so a
 * killed master's replica takes over within a few seconds. `stop()` kills every node and removes its files.
 */
export class OwnRedisCluster {
  private readonly nodes: ClusterNode[] = [];

  private constructor(private readonly dir: string) {}

  static async start(opts: { masters?: number; replicas?: number; nodeTimeoutMs?: number } = {}): Promise<OwnRedisCluster> {
    const masters = opts.masters ?? 3;
    const replicas = opts.replicas ?? 1;
    const cluster = new OwnRedisCluster(mkdtempSync(join(tmpdir(), 'redis-cluster-')));
    try {
      for (const port of await clusterPorts(masters * (1 + replicas))) cluster.startNode(port, opts.nodeTimeoutMs ?? 1000);
      await Promise.all(cluster.nodes.map((n) => cluster.waitForPing(n.port)));
      const created = spawnSync('redis-cli', ['--cluster', 'create', ...cluster.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      await cluster.waitUntilHealthy(30_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** The seed list for REDIS_CLUSTER_NODES: every node, as a client would be configured. */
  get seeds(): string {
    return this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
  }

  /** The port of the live master that serves `key`'s slot (asked of any live node). */
  async masterOf(key: string): Promise<number> {
    return this.withNode(async (redis) => {
      const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return Number(range[2][1]);
    });
  }

  /** The ports of the live masters. */
  async masters(): Promise<number[]> {
    const ports: number[] = [];
    for (const node of this.live()) {
      const redis = nodeConnection(node.port);
      try {
        await redis.connect();
        if (String(await redis.call('ROLE')).startsWith('master')) ports.push(node.port);
      } catch {
        // not answering: not a live master
      } finally {
        redis.disconnect();
      }
    }
    return ports;
  }

  /** SIGKILL of the node on `port`: what it had not replicated yet is gone. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node || node.process.exitCode !== null || node.process.signalCode !== null) return;
    const exited = new Promise((r) => node.process.once('exit', r));
    node.process.kill('SIGKILL');
    await exited;
  }

  /** Waits until every live node says the cluster is ok and every slot is served by a live master. */
  async waitUntilHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await this.healthy()) return;
      if (Date.now() > deadline) throw new Error('the Redis Cluster did not become healthy');
      await sleep(100);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private startNode(port: number, nodeTimeoutMs: number): void {
    const args = [
      '--bind', '127.0.0.1', '--port', String(port), '--dir', this.dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', String(nodeTimeoutMs),
      '--save', '', '--appendonly', 'no',
    ];
    this.nodes.push({ port, process: spawn('redis-server', args, { stdio: 'ignore' }) });
  }

  private live(): ClusterNode[] {
    return this.nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
  }

  private async healthy(): Promise<boolean> {
    const live = new Set(this.live().map((n) => n.port));
    for (const port of live) {
      const redis = nodeConnection(port);
      try {
        await redis.connect();
        if (!String(await redis.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const ranges = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;
        const covered = ranges.reduce((n, [from, to, master]) => n + (live.has(Number(master[1])) ? to - from + 1 : 0), 0);
        if (covered !== 16_384) return false;
      } catch {
        return false;
      } finally {
        redis.disconnect();
      }
    }
    return true;
  }

  private async withNode<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    let last: unknown = new Error('no live node');
    for (const node of this.live()) {
      const redis = nodeConnection(node.port);
      try {
        await redis.connect();
        return await fn(redis);
      } catch (err) {
        last = err;
      } finally {
        redis.disconnect();
      }
    }
    throw last;
  }

  private async waitForPing(port: number): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = nodeConnection(port);
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch {
        if (Date.now() > deadline) throw new Error(`redis-server on ${port} did not start`);
        await sleep(50);
      } finally {
        probe.disconnect();
      }
    }
  }
}
