import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface MetricsServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * A tiny HTTP server for processes that have no HTTP API of their own (the
 * inference worker): GET /metrics for Prometheus, GET /healthz with the
 * caller's health document (503 when it says `ok: false`).
 */
export async function startMetricsServer(opts: {
  registry: Registry;
  port: number;
  host: string;
  health: () => { ok: boolean } & Record<string, unknown>;
}): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      opts.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(body),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    } else if (req.method === 'GET' && path === '/healthz') {
      const health = opts.health();
      res.writeHead(health.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(health));
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
