import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { ModelRef, WorkerStatus } from '../../lib/fleet/protocol';
import { createLogger, type Logger } from '../../lib/logger';
import { createInferenceMetrics, type InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { startMetricsServer, type MetricsServer } from '../../lib/metrics/metrics-server';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import { createRedisConnection } from '../../lib/queue/redis-connection';
import { RequestConsumer } from '../../lib/queue/request-consumer';
import { BatchLoop } from './batch-loop';
import type { InferenceWorkerConfig } from './config';
import { FleetAgent } from './fleet-agent';
import { loadModel, type ModelRegistryClient } from './model-loader';
import type { CreateSession } from './model-runner';
import { ModelSlot } from './model-slot';

export interface InferenceWorkerOptions {
  config: InferenceWorkerConfig;
  /** MLflow in production (`MlflowClient`); any object with these two methods in tests. */
  registry: ModelRegistryClient;
  logger?: Logger;
  /** Defaults to a fresh registry with process metrics. */
  metricsRegistry?: Registry;
  /** Serve /metrics and /healthz on METRICS_PORT (default true). */
  serveMetrics?: boolean;
  /** Wraps or replaces onnxruntime session creation (tests slow sessions down or make them hang). */
  createSession?: CreateSession;
  heartbeatIntervalMs?: number;
  /** Blocking read timeout of the queue consumer (default 1000 ms); bounds how long shutdown waits for an idle read. */
  readBlockMs?: number;
}

/**
 * One inference worker: a queue consumer running dynamic batches through the
 * served model, a fleet agent that loads and hot-swaps models, and a metrics
 * endpoint. Started by workers/inference-worker.ts, or in-process by tests.
 */
export class InferenceWorker {
  readonly metrics: InferenceMetrics;
  readonly registry: Registry;
  private readonly connections: Redis[];
  private readonly slot: ModelSlot;
  private readonly consumer: RequestConsumer;
  private readonly loop: BatchLoop;
  private readonly agent: FleetAgent;
  private loopDone: Promise<void> = Promise.resolve();
  private metricsServer: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;
  private aborted = false;

  private constructor(
    private readonly opts: InferenceWorkerOptions,
    private readonly logger: Logger,
  ) {
    const { config } = opts;
    const connect = (name: string, blocking = false) =>
      createRedisConnection(config.REDIS_URL, { name: `inference-worker:${config.WORKER_ID}:${name}`, logger, blocking });
    const reader = connect('queue', true);
    const writer = connect('commands');
    const subscriber = connect('fleet-commands');
    this.connections = [reader, writer, subscriber];

    this.registry = opts.metricsRegistry ?? createMetricsRegistry();
    this.metrics = createInferenceMetrics(this.registry);
    this.slot = new ModelSlot(logger);
    this.consumer = new RequestConsumer({
      reader,
      writer,
      prefix: config.REDIS_PREFIX,
      consumer: config.WORKER_ID,
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxBatchWaitMs: config.MAX_BATCH_WAIT_MS,
      claimIdleMs: config.CLAIM_IDLE_MS,
      blockMs: opts.readBlockMs,
      logger,
    });
    this.loop = new BatchLoop({ consumer: this.consumer, slot: this.slot, metrics: this.metrics, logger });
    this.agent = new FleetAgent({
      redis: writer,
      subscriber,
      prefix: config.REDIS_PREFIX,
      workerId: config.WORKER_ID,
      slot: this.slot,
      load: (ref) =>
        loadModel(ref, {
          registry: opts.registry,
          cacheDir: config.MODEL_CACHE_DIR,
          session: { intraOpNumThreads: config.INTRA_OP_NUM_THREADS },
          warmupBatchSize: config.MAX_BATCH_SIZE,
          createSession: opts.createSession,
          logger,
        }),
      registry: opts.registry,
      modelName: config.MODEL_NAME,
      modelAlias: config.MODEL_ALIAS,
      metrics: this.metrics,
      logger,
      pollIntervalMs: config.MODEL_POLL_INTERVAL_MS,
      heartbeatIntervalMs: opts.heartbeatIntervalMs,
    });
  }

  /** Connects, starts serving metrics, joins the fleet and starts consuming once a model is loaded. */
  static async start(opts: InferenceWorkerOptions): Promise<InferenceWorker> {
    const logger = (opts.logger ?? createLogger('inference-worker', opts.config.LOG_LEVEL)).child({ workerId: opts.config.WORKER_ID });
    const worker = new InferenceWorker(opts, logger);
    try {
      if (opts.serveMetrics ?? true) {
        worker.metricsServer = await startMetricsServer({
          registry: worker.registry,
          port: opts.config.METRICS_PORT,
          host: opts.config.METRICS_HOST,
          health: () => ({ ok: true, ...worker.status }),
        });
      }
      await worker.consumer.init();
      await worker.agent.start();
    } catch (err) {
      await worker.abort();
      throw err;
    }
    worker.loopDone = worker.loop.run();
    logger.info({ metricsPort: worker.metricsPort }, 'inference worker started');
    return worker;
  }

  get status(): WorkerStatus {
    return this.agent.current;
  }

  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }

  /** Loads and swaps in `ref` as a deploy command would (without a command). */
  async deploy(ref: ModelRef): Promise<boolean> {
    return this.agent.deploy(ref);
  }

  /** Resolves once a model is being served. */
  async ready(): Promise<void> {
    await this.slot.ready();
  }

  /**
   * Graceful stop, in reverse start order: stop reading, answer the in-flight
   * batch, leave the fleet (status key deleted), release the model, close Redis.
   */
  async shutdown(): Promise<void> {
    if (this.aborted) return;
    this.stopping ??= this.drain();
    return this.stopping;
  }

  /** Hard stop (a second signal, or tests simulating a crash): unanswered entries are left for other workers to claim. */
  async abort(): Promise<void> {
    this.aborted = true;
    this.loop.stop();
    this.agent.halt();
    for (const c of this.connections) c.disconnect();
    await this.metricsServer?.close();
  }

  private async drain(): Promise<void> {
    const { logger } = this;
    logger.info('draining');
    await this.agent.draining().catch(() => undefined);
    this.loop.stop();
    const timeoutMs = this.opts.config.SHUTDOWN_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.loopDone.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      logger.error({ timeoutMs }, 'in-flight batch did not finish in time; its requests will be claimed by another worker');
      await this.abort();
      return;
    }
    await this.consumer.leaveGroup().catch((err: Error) => logger.warn({ err }, 'leaving the consumer group failed'));
    await this.agent.stop();
    await this.agent.idle();
    this.slot.clear();
    await this.metricsServer?.close();
    await Promise.all(this.connections.map((c) => c.quit().catch(() => c.disconnect())));
    logger.info('stopped');
  }
}
