import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { portIsFree } from '../../lib/process/free-port';
import { killAndWait, onRedis, waitForRedis } from './redis-server';

interface ClusterNode {
  port: number;
  process: ChildProcess;
}

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

/** CLUSTER SLOTS: slot ranges, each with its master (host, port, id, ...) first. */
type SlotRanges = Array<[number, number, [string, number, ...unknown[]], ...unknown[]]>;

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
      await Promise.all(cluster.nodes.map((n) => waitForRedis(n.port)));
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
      const ranges = (await redis.call('CLUSTER', 'SLOTS')) as SlotRanges;
      const range = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no node serves slot ${slot}`);
      return Number(range[2][1]);
    });
  }

  /** The ports of the live masters. */
  async masters(): Promise<number[]> {
    const ports: number[] = [];
    for (const { port } of this.live()) {
      // A node that does not answer is not a live master.
      if (await onRedis(port, async (redis) => String(await redis.call('ROLE')).startsWith('master')).catch(() => false)) ports.push(port);
    }
    return ports;
  }

  /** SIGKILL of the node on `port`: what it had not replicated yet is gone. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (node) await killAndWait(node.process);
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
      const ok = await onRedis(port, async (redis) => {
        if (!String(await redis.call('CLUSTER', 'INFO')).includes('cluster_state:ok')) return false;
        const ranges = (await redis.call('CLUSTER', 'SLOTS')) as SlotRanges;
        return ranges.reduce((n, [from, to, master]) => n + (live.has(Number(master[1])) ? to - from + 1 : 0), 0) === 16_384;
      }).catch(() => false);
      if (!ok) return false;
    }
    return true;
  }

  /** `fn` on the first live node that answers. */
  private async withNode<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
    let last: unknown = new Error('no live node');
    for (const { port } of this.live()) {
      try {
        return await onRedis(port, fn);
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }
}
