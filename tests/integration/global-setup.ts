import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Connection } from '@temporalio/client';
import { Redis } from 'ioredis';
import { ensureLifecycleSearchAttributes } from '../../lib/lifecycle/register-search-attributes';

/**
 * Integration tests talk to real services; `make test` starts them. When run
 * directly (npx jest), fail fast with a clear message instead of timing out.
 */
export default async function globalSetup(): Promise<void> {
  const venv = resolve(__dirname, '../../.venv/bin/python');
  if (!existsSync(venv)) throw new Error(`No project venv at ${venv}: run \`make setup\` (or \`make test\`, which starts every service)`);
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`Redis not reachable at ${url} (${(err as Error).message}): run \`make test\``);
  } finally {
    redis.disconnect();
  }
  // The stack's dev server registers the lifecycle's search attributes at start; a Temporal started any
  // other way (an older stack still running, TEMPORAL_ADDRESS elsewhere) gets them here.
  const address = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
  // Not reachable: the suites that need Temporal say so themselves; the others run without it.
  const connection = await Connection.connect({ address, connectTimeout: '5 seconds' }).catch(() => null);
  if (!connection) return;
  try {
    await ensureLifecycleSearchAttributes(connection);
  } finally {
    await connection.close();
  }
}
