import type { NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import type { Registry } from 'prom-client';
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
  /** The process's /metrics registry, for metrics of its own activities. */
  registry: Registry;
}

export interface BuiltWorkers {
  worker: Worker;
  /** More task queues served by the same process (own concurrency each); health and shutdown cover them too. */
  companions?: Worker[];
  close?: () => Promise<void>;
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
  build: (ctx: WorkerProcessContext<z.infer<S>>) => Promise<BuiltWorkers>,
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
    const built = await build({
      config,
      logger,
      root: projectRoot(),
      connection,
      interceptors: { activity: [activityMetricsInterceptor(metrics)] },
      registry: metrics.registry,
    });
    const { worker, close } = built;
    const workers = [worker, ...(built.companions ?? [])];
    health.attach(...workers);
    const taskQueues = workers.map((w) => w.options.taskQueue);
    logger.info({ taskQueue: worker.options.taskQueue, taskQueues, temporal: config.TEMPORAL_ADDRESS, metricsPort: metricsServer.port }, `${name} started`);
    // Each Worker drains on SIGINT/SIGTERM (the SDK's shutdown signals) and its run() then resolves.
    await Promise.all(workers.map((w) => w.run()));
    health.stop();
    await close?.();
    await connection.close();
    await metricsServer.close();
    logger.info(`${name} stopped`);
  });
}
