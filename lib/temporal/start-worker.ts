import { resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { NativeConnection, Runtime, Worker, makeTelemetryFilterString, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { TemporalWorkerConfig } from './worker-config';

/** Routes the SDK's logs through pino and exposes the SDK's own Prometheus metrics. Call once per process. */
export function installRuntime(config: TemporalWorkerConfig, logger: Logger): void {
  Runtime.install({
    logger: {
      log: (level, message, meta) => logger[level.toLowerCase() as 'info'](meta ?? {}, message),
      trace: (m, meta) => logger.trace(meta ?? {}, m),
      debug: (m, meta) => logger.debug(meta ?? {}, m),
      info: (m, meta) => logger.info(meta ?? {}, m),
      warn: (m, meta) => logger.warn(meta ?? {}, m),
      error: (m, meta) => logger.error(meta ?? {}, m),
    },
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `${config.METRICS_HOST}:${config.TEMPORAL_METRICS_PORT}` } },
    },
  });
}

export async function connect(config: TemporalWorkerConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
}

/** A worker of the configured namespace that, when stopped, lets running activities finish for TEMPORAL_SHUTDOWN_GRACE_MS. */
export async function createWorker(
  connection: NativeConnection,
  config: TemporalWorkerConfig,
  options: Omit<WorkerOptions, 'connection' | 'namespace' | 'shutdownGraceTime'>,
): Promise<Worker> {
  return Worker.create({ connection, namespace: config.TEMPORAL_NAMESPACE, shutdownGraceTime: config.TEMPORAL_SHUTDOWN_GRACE_MS, ...options });
}

/** The project root: processes are started from it (`make up`, the images' WORKDIR), in both src and dist layouts. */
export function projectRoot(): string {
  return resolve(process.cwd());
}

/** The commit of the running code, recorded on MLflow runs; GIT_COMMIT wins (containers have no .git). */
export function codeVersion(root: string): string {
  if (process.env.GIT_COMMIT) return process.env.GIT_COMMIT;
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
