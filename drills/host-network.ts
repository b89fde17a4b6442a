import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** One simulated host: a network namespace with one veth link to the test's bridge. */
export interface Host {
  name: string;
  /** The namespace (`ip netns exec <ns> ...`). */
  ns: string;
  ip: string;
  /** The bridge side of the host's link: taking it down cuts the host off the network. */
  link: string;
}

/** Why `ip netns` cannot be used here, or null when it can (root, iproute2, namespaces allowed). */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network-namespace tests need root (ip netns)';
  const probe = `lcprobe${randomBytes(2).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (add.error) return `iproute2's \`ip\` is not installed (${add.error.message})`;
  if (add.status !== 0) return `this machine does not allow network namespaces: ${add.stderr.trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  return null;
}

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
}

/**
 * Several hosts on one machine, for tests and drills whose faults must cross a
 * real network: a bridge in the caller's own namespace and one namespace per
 * host, linked by a veth pair. The bridge has two addresses: `bridgeIp`, from
 * which the caller reaches every host, and `serviceIp`, where `forward()`
 * exposes services of the caller's namespace (the stack's Redis, MLflow) to
 * the hosts, so a host can be partitioned from those services alone.
 * Addresses come from a /24 of 10.213.0.0/16 that no interface here uses.
 * Everything made is removed by `destroy()` (processes left in the
 * namespaces included), also after a failure.
 */
export class HostNetwork {
  readonly hosts = new Map<string, Host>();
  readonly bridgeIp: string;
  private readonly bridge: string;
  readonly serviceIp: string;
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private destroyed = false;

  private constructor(
    private readonly id: string,
    private readonly subnet: string,
  ) {
    this.bridge = `lcbr${id}`;
    this.bridgeIp = `${subnet}.1`;
    this.serviceIp = `${subnet}.254`;
  }

  static create(hostNames: string[]): HostNetwork {
    const id = randomBytes(2).toString('hex');
    const used = spawnSync('ip', ['-4', '-o', 'addr'], { encoding: 'utf8' }).stdout;
    let third = 0;
    for (let tries = 0; tries < 50; tries++) {
      third = 10 + Math.floor(Math.random() * 240);
      if (!used.includes(`10.213.${third}.`)) break;
    }
    const net = new HostNetwork(id, `10.213.${third}`);
    try {
      ip('link', 'add', net.bridge, 'type', 'bridge');
      ip('addr', 'add', `${net.bridgeIp}/24`, 'dev', net.bridge);
      ip('addr', 'add', `${net.serviceIp}/32`, 'dev', net.bridge);
      ip('link', 'set', net.bridge, 'up');
      hostNames.forEach((name, i) => net.addHost(name, i + 2));
    } catch (err) {
      net.destroy();
      throw err;
    }
    return net;
  }

  private addHost(name: string, n: number): void {
    const host: Host = { name, ns: `lc${this.id}-${name}`.slice(0, 30), ip: `${this.subnet}.${n}`, link: `v${this.id}${n}b` };
    const inner = `v${this.id}${n}h`;
    this.hosts.set(name, host);
    ip('netns', 'add', host.ns);
    ip('link', 'add', host.link, 'type', 'veth', 'peer', 'name', inner);
    ip('link', 'set', inner, 'netns', host.ns);
    ip('link', 'set', host.link, 'master', this.bridge);
    ip('link', 'set', host.link, 'up');
    ip('-n', host.ns, 'addr', 'add', `${host.ip}/24`, 'dev', inner);
    ip('-n', host.ns, 'link', 'set', inner, 'up');
    ip('-n', host.ns, 'link', 'set', 'lo', 'up');
  }

  host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`no host ${name}`);
    return host;
  }

  /** Cuts `name` off the network (its link goes down: packets are dropped, no connection is reset). */
  cut(name: string): void {
    ip('link', 'set', this.host(name).link, 'down');
  }

  heal(name: string): void {
    ip('link', 'set', this.host(name).link, 'up');
  }

  /**
   * `from` can no longer reach `to` (a host name, or 'services' for everything `forward()` exposes):
   * a blackhole route on `from` makes its packets vanish; the rest of the network works.
   */
  partition(from: string, to: string): void {
    ip('-n', this.host(from).ns, 'route', 'add', 'blackhole', `${this.addressOf(to)}/32`);
  }

  unpartition(from: string, to: string): void {
    ip('-n', this.host(from).ns, 'route', 'del', 'blackhole', `${this.addressOf(to)}/32`);
  }

  private addressOf(name: string): string {
    return name === 'services' ? this.serviceIp : this.host(name).ip;
  }

  /** `command` as run on `host` (`ip netns exec`): spawn it with any process helper. */
  exec(host: string, command: string[]): string[] {
    return ['ip', 'netns', 'exec', this.host(host).ns, ...command];
  }

  /**
   * Makes a service of the caller's namespace (`127.0.0.1:port`: MLflow, Redis) reachable from the
   * hosts at `serviceIp:<returned port>`. A plain byte pipe: no library is needed for that.
   */
  async forward(port: number): Promise<number> {
    const server = createServer((inbound) => {
      const outbound = connect(port, '127.0.0.1');
      inbound.pipe(outbound).pipe(inbound);
      this.sockets.add(inbound).add(outbound);
      const close = () => {
        inbound.destroy();
        outbound.destroy();
        this.sockets.delete(inbound);
        this.sockets.delete(outbound);
      };
      inbound.on('close', close);
      outbound.on('close', close);
      inbound.on('error', close);
      outbound.on('error', close);
    });
    server.listen(0, this.serviceIp);
    await once(server, 'listening');
    this.servers.push(server);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('forwarder has no port');
    return address.port;
  }

  /** Kills every process left on the hosts, closes forwarders, removes the namespaces, links and bridge. Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of this.servers) s.close();
    for (const socket of this.sockets) socket.destroy();
    for (const host of this.hosts.values()) {
      spawnSync('ip', ['link', 'del', host.link]);
      // Processes that `ip netns exec` left behind would keep the namespace alive: kill what remains in it.
      const pids = spawnSync('ip', ['netns', 'pids', host.ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) spawnSync('kill', ['-9', pid]);
      spawnSync('ip', ['netns', 'del', host.ns]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}
