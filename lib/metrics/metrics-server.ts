import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

type Probe = () => { ok: boolean } & Record<string, unknown>;

/**
 * A tiny HTTP server for processes that have no HTTP API of their own (the
 * workers): GET /metrics for Prometheus, GET /healthz (liveness) and GET
 * /readyz (readiness) with the caller's documents, 503 when they say
 * `ok: false`. Without a `ready` probe, /readyz answers like /healthz.
 */
export async function startMetricsServer(opts: { registry: Registry; port: number; host: string; health: Probe; ready?: Probe }): Promise<MetricsServer> {
  const probe = (fn: Probe, res: import('node:http').ServerResponse) => {
    let doc: ReturnType<Probe>;
    try {
      doc = fn();
    } catch (err) {
      doc = { ok: false, reason: (err as Error).message };
    }
    res.writeHead(doc.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
  };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (req.method === 'GET' && path === '/healthz') {
      probe(opts.health, res);
    } else if (req.method === 'GET' && path === '/readyz') {
      probe(opts.ready ?? opts.health, res);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Scrapers keep connections alive; without this close() waits for them to time out.
        server.closeAllConnections();
      }),
  };
}
