import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Load } from '../../drills/load';
import { freePort } from '../../lib/process/free-port';

/**
 * The drills' load generator is their measuring instrument: every request must end in exactly one
 * bucket (200, error by status, failed at the connection, lost), and a refused connection must be
 * rerouted like a load balancer would, not counted as a failure. Checked against tiny local servers.
 */
describe('drills load generator', () => {
  const servers: Server[] = [];
  const serve = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };
  const run = async (targets: string[], ms: number, timeoutMs = 2000) => {
    const load = Load.start({ targets, images: [Buffer.from('png')], connections: 2, rate: 0, timeoutMs });
    await new Promise((r) => setTimeout(r, ms));
    return { load, summary: await load.stop() };
  };

  afterAll(async () => {
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  it('counts answers by status, keeps the version that answered and the Retry-After of errors', async () => {
    let n = 0;
    const url = await serve((req, res) => {
      req.resume();
      req.on('end', () => {
        if (n++ % 2 === 0) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: { name: 'm', version: '7' } }));
        else res.writeHead(503, { 'retry-after': '1', 'content-type': 'application/json' }).end(JSON.stringify({ code: 'QUEUE_UNAVAILABLE' }));
      });
    });
    const { load, summary } = await run([url], 300);
    expect(summary.sent).toBeGreaterThan(4);
    expect(summary.ok + (summary.errors['503'] ?? 0)).toBe(summary.sent);
    expect(load.records.filter((r) => r.outcome === 'ok').every((r) => r.version === '7')).toBe(true);
    expect(load.records.filter((r) => r.status === 503).every((r) => r.retryAfter === '1' && r.code === 'QUEUE_UNAVAILABLE')).toBe(true);
  });

  it('reroutes a refused connection to another instance instead of failing the request', async () => {
    const up = await serve((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200).end(JSON.stringify({ model: { version: '1' } })));
    });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const { summary } = await run([closed, up], 300);
    expect(summary.rerouted).toBeGreaterThan(0);
    expect(summary.ok).toBe(summary.sent);
  });

  it('reports a connection broken mid-request as failed at the connection, and silence past the timeout as lost', async () => {
    const breaks = await serve((req) => req.socket.destroy());
    const silent = await serve((req) => req.resume());
    const broken = (await run([breaks], 200)).summary;
    expect(broken.sent).toBeGreaterThan(0);
    expect(broken).toMatchObject({ ok: 0, lost: 0, connFailed: broken.sent });
    const { summary } = await run([silent], 100, 300);
    expect(summary.sent).toBeGreaterThan(0);
    expect(summary).toMatchObject({ ok: 0, connFailed: 0, lost: summary.sent });
  });
});
