import type { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { z } from 'zod';
import { loadConfig } from '../env';
import { createLogger, type Logger } from '../logger';
import { startMetricsServer } from '../metrics/metrics-server';
import { runMain } from '../process/main';
import { activityMetricsInterceptor } from './activity-metrics';
import { connect, installRuntime, projectRoot } from './start-worker';
import type { TemporalWorkerConfig } from './worker-config';
import { createWorkerMetrics } from './worker-metrics';
import { WorkerHealth } from './worker-health';

export interface WorkerProcessContext<C> {
  config: C;
  logger: Logger;
  root: string;
  connection: NativeConnection;
  /** Activity timing and outcome metrics; pass to Worker.create. */
  interceptors: NonNullable<WorkerOptions['interceptors']>;
}

/**
 * The shared skeleton of a Temporal worker process (pipeline, training):
 * validated config, pino logs, the SDK runtime with its Prometheus exporter,
 * our own metrics endpoint with /healthz (worker running, server answering)
 * and /readyz (and polling its task queue), and the Temporal connection.
 * `build` wires the worker; it runs until SIGINT/SIGTERM (Worker.run drains
 * in-flight tasks), then everything closes in reverse start order.
 */
export function runWorkerProcess<S extends z.ZodObject & z.ZodType<TemporalWorkerConfig>>(
  name: string,
  schema: S,
  build: (ctx: WorkerProcessContext<z.infer<S>>) => Promise<{ worker: Worker; close?: () => Promise<void> }>,
): void {
  runMain(name, async () => {
    const config = loadConfig(schema);
    const logger = createLogger(name, config.LOG_LEVEL);
    installRuntime(config, logger);
    const metrics = createWorkerMetrics(name);
    const connection = await connect(config);
    const health = new WorkerHealth(connection);
    health.start();
    const metricsServer = await startMetricsServer({
      registry: metrics.registry,
      host: config.METRICS_HOST,
      port: config.METRICS_PORT,
      health: () => health.health(),
      ready: () => health.ready(),
    });
    const { worker, close } = await build({ config, logger, root: projectRoot(), connection, interceptors: { activity: [activityMetricsInterceptor(metrics)] } });
    health.attach(worker);
    logger.info({ taskQueue: worker.options.taskQueue, temporal: config.TEMPORAL_ADDRESS, metricsPort: metricsServer.port }, `${name} started`);
    await worker.run();
    health.stop();
    await close?.();
    await connection.close();
    await metricsServer.close();
    logger.info(`${name} stopped`);
  });
}
