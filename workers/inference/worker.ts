import type { Registry } from 'prom-client';
import { FleetController } from '../../lib/fleet/fleet-controller';
import { RolloutLeases } from '../../lib/fleet/lease';
import type { ModelRef, WorkerStatus } from '../../lib/fleet/protocol';
import { createLogger, type Logger } from '../../lib/logger';
import { createInferenceMetrics, type InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { startMetricsServer, type MetricsServer } from '../../lib/metrics/metrics-server';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import { createPayloadWriteMetrics, PayloadLogWriter } from '../../lib/payload-log/payload-writer';
import { periodic } from '../../lib/process/periodic';
import { readModelMetadata, type ModelMetadata } from '../../lib/model/metadata';
import { createRedisConnection, waitUntilReady, type RedisClient } from '../../lib/queue/redis-connection';
import { CandidateFollower } from './candidate-follower';
import { FleetCommands } from './fleet-commands';
import { servedModels, type InferenceWorkerConfig } from './config';
import { fetchVerifiedModel } from './model-cache';
import { loadModel, type LoadedModel, type ModelRegistryClient } from './model-loader';
import { ModelDeployer } from './model-deployer';
import type { CreateSession } from '../../lib/model/model-runner';
import { ModelServer } from './model-server';
import { Reaper } from './reaper';
import { Reconciler } from './reconciler';
import { StatusReporter } from './status-reporter';

export interface InferenceWorkerOptions {
  config: InferenceWorkerConfig;
  /** MLflow in production (`MlflowClient`); a fake that serves local files in tests. */
  registry: ModelRegistryClient;
  logger?: Logger;
  /** Defaults to a fresh registry with process metrics. */
  metricsRegistry?: Registry;
  /** Serve /metrics, /healthz and /readyz on METRICS_PORT (default true). */
  serveMetrics?: boolean;
  /** Wraps or replaces onnxruntime session creation (tests slow sessions down or make them hang). */
  createSession?: CreateSession;
  /** Fault injection for drills (drills/faulty-inference-worker.ts): `model@version` whose golden check fails. */
  failGoldenCheck?: ReadonlySet<string>;
  /** Blocking read timeout of the queue consumers (default 1000 ms); bounds how long a stop waits for an idle read. */
  readBlockMs?: number;
}

type Timer = ReturnType<typeof periodic>;

/**
 * One inference worker: a model server (stream consumer, batch loop, loaded
 * version) per served model, a status heartbeat that is also its liveness, a
 * reaper that takes over dead workers' requests, a reconciler that keeps each
 * model on the version the fleet (or, when Redis lost it, the registry) says,
 * the fleet's deploy commands, and /metrics, /healthz, /readyz.
 */
export class InferenceWorker {
  readonly metrics: InferenceMetrics;
  readonly registry: Registry;
  private readonly servers = new Map<string, ModelServer>();
  private readonly writer: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly status: StatusReporter;
  private readonly deployer: ModelDeployer;
  private readonly reconciler: Reconciler;
  private readonly candidates: CandidateFollower;
  private readonly controller: FleetController;
  private readonly reaper: Reaper;
  private readonly commands: FleetCommands;
  private readonly payloadLog: PayloadLogWriter;
  private readonly wanted: string[] | 'all';
  private timers: Timer[] = [];
  private controllerTimer: Timer | null = null;
  private metricsServer: MetricsServer | null = null;
  private stopping: Promise<void> | null = null;
  private aborted = false;

  private constructor(
    private readonly opts: InferenceWorkerOptions,
    private readonly logger: Logger,
  ) {
    const { config } = opts;
    this.writer = this.connect('commands');
    this.subscriber = this.connect('fleet-commands', 'subscriber');
    this.registry = opts.metricsRegistry ?? createMetricsRegistry();
    this.metrics = createInferenceMetrics(this.registry);
    this.payloadLog = new PayloadLogWriter({
      redis: this.writer,
      prefix: config.REDIS_PREFIX,
      maxLength: config.PAYLOAD_LOG_MAX_LENGTH,
      metrics: createPayloadWriteMetrics(this.registry),
      logger,
    });
    this.wanted = servedModels(config);
    this.status = new StatusReporter({
      redis: this.writer,
      prefix: config.REDIS_PREFIX,
      workerId: config.WORKER_ID,
      ttlMs: config.WORKER_LIVENESS_TTL_MS,
      alive: () => !this.anyStalled(),
      logger,
    });
    const load = (ref: ModelRef, placement = config.INFERENCE_THREAD) =>
      loadModel(ref, {
        registry: opts.registry,
        cacheDir: config.MODEL_CACHE_DIR,
        session: { intraOpNumThreads: config.INTRA_OP_NUM_THREADS },
        warmupBatchSize: config.MAX_BATCH_SIZE,
        createSession: opts.createSession,
        placement,
        threadAboveMs: config.INFERENCE_THREAD_ABOVE_MS,
        failGoldenCheck: opts.failGoldenCheck,
        logger,
      });
    this.deployer = new ModelDeployer({ load, status: this.status, metrics: this.metrics, logger });
    // A candidate runs where its champion runs (auto placement): the live analysis compares their latency, and a
    // warm-up timed under live traffic put a copy of the champion on a thread beside an inline champion.
    const loadCandidate = (ref: ModelRef, beside: LoadedModel | null) =>
      load(ref, config.INFERENCE_THREAD === 'auto' && beside?.runsOn ? (beside.runsOn === 'thread' ? 'thread' : 'inline') : config.INFERENCE_THREAD);
    this.candidates = new CandidateFollower({ redis: this.writer, prefix: config.REDIS_PREFIX, load: loadCandidate, status: this.status, metrics: this.metrics, logger });
    const leases = new RolloutLeases(this.writer, config.REDIS_PREFIX);
    this.reconciler = new Reconciler({ redis: this.writer, prefix: config.REDIS_PREFIX, leases, registry: opts.registry, alias: config.MODEL_ALIAS, deployer: this.deployer, logger });
    const metadata = new Map<string, ModelMetadata>();
    this.controller = new FleetController({
      redis: this.writer,
      prefix: config.REDIS_PREFIX,
      holder: config.WORKER_ID,
      registry: opts.registry,
      alias: config.MODEL_ALIAS,
      // Read from the verified file (the model cache makes it one download per version and machine).
      metadataOf: async (ref) => {
        const known = metadata.get(ref.sha256);
        if (known) return known;
        const read = readModelMetadata(await fetchVerifiedModel(ref, (uri) => opts.registry.downloadArtifact(uri), config.MODEL_CACHE_DIR));
        metadata.set(ref.sha256, read);
        return read;
      },
      leaseTtlMs: config.FLEET_CONTROLLER_INTERVAL_MS * 5,
      registryCheckIntervalMs: config.REGISTRY_CHECK_INTERVAL_MS,
      logger,
    });
    this.reaper = new Reaper({
      redis: this.writer,
      prefix: config.REDIS_PREFIX,
      workerId: config.WORKER_ID,
      minIdleMs: Math.floor(config.WORKER_LIVENESS_TTL_MS / 2),
      batchSize: config.MAX_BATCH_SIZE,
      metrics: this.metrics,
      logger,
    });
    this.commands = new FleetCommands({
      subscriber: this.subscriber,
      prefix: config.REDIS_PREFIX,
      workerId: config.WORKER_ID,
      server: (name) => this.serverFor(name),
      deployer: this.deployer,
      onSync: (model) => {
        this.controller.requestSync(model);
        this.controllerTimer?.kick();
      },
      logger,
    });
  }

  /** Connects, serves health and metrics, joins the fleet, starts serving its models. */
  static async start(opts: InferenceWorkerOptions): Promise<InferenceWorker> {
    const logger = (opts.logger ?? createLogger('inference-worker', opts.config.LOG_LEVEL)).child({ workerId: opts.config.WORKER_ID });
    const worker = new InferenceWorker(opts, logger);
    try {
      await worker.begin();
    } catch (err) {
      await worker.abort();
      throw err;
    }
    logger.info({ metricsPort: worker.metricsPort, models: worker.wanted }, 'inference worker started');
    if (opts.failGoldenCheck?.size) logger.warn({ versions: [...opts.failGoldenCheck] }, 'drill fault: this worker fails the golden check of these versions on purpose');
    return worker;
  }

  get current(): WorkerStatus {
    return this.status.current;
  }

  get metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }

  /** The server of `model`, if this worker serves it. */
  server(model: string): ModelServer | undefined {
    return this.servers.get(model);
  }

  /** Resolves once `model` (default: any) is being served. */
  async ready(model?: string): Promise<void> {
    for (;;) {
      const servers = model ? [this.servers.get(model)].filter((s) => s !== undefined) : [...this.servers.values()];
      if (servers.some((s) => s.slot.model)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Liveness: the loops come round and the connections can still reconnect. A Redis outage is not a liveness failure. */
  health(): { ok: boolean; reason?: string } {
    const ended = [this.writer, this.subscriber].some((c) => c.status === 'end');
    if (ended && !this.stopping) return { ok: false, reason: 'a Redis connection was closed for good' };
    const stalled = [...this.servers.values()].filter((s) => this.isStalled(s)).map((s) => s.name);
    return stalled.length ? { ok: false, reason: `batch loop stuck: ${stalled.join(', ')}` } : { ok: true };
  }

  /** Readiness: Redis reachable, a verified model loaded, loops alive, not draining. */
  readiness(): { ok: boolean; reason?: string } {
    const health = this.health();
    if (!health.ok) return health;
    if (this.stopping) return { ok: false, reason: 'draining' };
    if (this.writer.status !== 'ready') return { ok: false, reason: `Redis ${this.writer.status}` };
    if (![...this.servers.values()].some((s) => s.slot.model)) return { ok: false, reason: 'no verified model loaded yet' };
    return { ok: true };
  }

  /**
   * Graceful stop, in reverse start order: report draining, stop the timers, let
   * each loop answer its batch, leave the groups, drop the status key, close Redis.
   */
  async shutdown(): Promise<void> {
    if (this.aborted) return;
    this.stopping ??= this.drain();
    return this.stopping;
  }

  /** Hard stop (a second signal, or tests simulating a crash): unanswered entries are left for other workers to reclaim. */
  async abort(): Promise<void> {
    this.aborted = true;
    for (const t of this.timers) t.stop();
    this.status.halt();
    this.deployer.stop();
    for (const s of this.servers.values()) s.abort();
    this.writer.disconnect();
    this.subscriber.disconnect();
    await this.metricsServer?.close();
  }

  private async begin(): Promise<void> {
    const { config } = this.opts;
    if (this.opts.serveMetrics ?? true) {
      this.metricsServer = await startMetricsServer({
        registry: this.registry,
        port: config.METRICS_PORT,
        host: config.METRICS_HOST,
        health: () => ({ ...this.health(), status: this.status.current }),
        ready: () => ({ ...this.readiness(), status: this.status.current }),
      });
    }
    // Commands fail fast while disconnected (no offline queue): give Redis a moment so the first status is
    // published now rather than at the next heartbeat. If Redis is down, start anyway; it is rebuilt later.
    await waitUntilReady(this.writer, 5000);
    this.status.start();
    await this.status.setState('starting').catch(() => undefined);
    await this.status.setAcceptsNewModels(this.acceptsNewModels()).catch(() => undefined);
    await this.commands.start();
    if (this.wanted !== 'all') for (const name of this.wanted) this.serverFor(name);
    const onError = (what: string) => (err: unknown) => this.logger.warn({ err }, `${what} failed`);
    const reconcile = periodic(config.RECONCILE_INTERVAL_MS, () => this.reconcileAll(), onError('reconcile'));
    // Candidates follow the traffic entry right after the controller's tick (which writes it when this worker leads).
    const control = periodic(config.FLEET_CONTROLLER_INTERVAL_MS, () => this.controller.tick().finally(() => this.followTraffic()), onError('fleet controller'));
    this.controllerTimer = control;
    this.timers.push(
      reconcile,
      control,
      periodic(config.REAP_INTERVAL_MS, () => this.reapAll(), onError('reaping dead workers')),
      periodic(config.DISCOVERY_INTERVAL_MS, () => this.discover(), onError('model discovery')),
    );
    // After a Redis outage (possibly a restart that lost every key), re-establish the fleet state at once.
    this.writer.on('ready', () => {
      this.status.refresh().catch(onError('publishing the status'));
      control.kick();
      reconcile.kick();
    });
    await this.discover().catch(onError('model discovery'));
    control.kick();
    reconcile.kick();
    await this.status.setState('ready').catch(() => undefined);
  }

  /** The model server of `name`, created on first use if this worker may serve it (listed, or `*` within the bound). */
  private serverFor(name: string): ModelServer | null {
    const existing = this.servers.get(name);
    if (existing) return existing;
    if (this.stopping || this.aborted) return null;
    const { config } = this.opts;
    const allowed = this.wanted === 'all' ? this.servers.size < config.MAX_MODELS_PER_WORKER : this.wanted.includes(name);
    if (!allowed) return null;
    const server = new ModelServer({
      model: name,
      workerId: config.WORKER_ID,
      prefix: config.REDIS_PREFIX,
      reader: this.connect(`queue:${name}`, 'blocking'),
      writer: this.writer,
      maxBatchSize: config.MAX_BATCH_SIZE,
      maxBatchWaitMs: config.MAX_BATCH_WAIT_MS,
      maxInputPixels: config.MAX_IMAGE_PIXELS,
      readBlockMs: this.opts.readBlockMs,
      metrics: this.metrics,
      payloadLog: this.payloadLog,
      logger: this.logger,
    });
    this.servers.set(name, server);
    void server.start();
    void this.status.setModel(name, { version: null, sha256: null, state: 'starting' }).catch(() => undefined);
    void this.status.setAcceptsNewModels(this.acceptsNewModels()).catch(() => undefined);
    this.logger.info({ model: name }, 'serving a new model');
    return server;
  }

  /** With SERVED_MODELS=*, serves every registered model that has the alias (within MAX_MODELS_PER_WORKER). */
  private async discover(): Promise<void> {
    if (this.wanted !== 'all') return;
    const names = await this.opts.registry.modelsWithAlias(this.opts.config.MODEL_ALIAS);
    for (const name of names.sort()) {
      if (!this.servers.has(name) && !this.serverFor(name)) {
        this.logger.warn({ model: name, max: this.opts.config.MAX_MODELS_PER_WORKER }, 'not serving a model: MAX_MODELS_PER_WORKER reached');
      }
    }
  }

  private acceptsNewModels(): boolean {
    return this.wanted === 'all' && this.servers.size < this.opts.config.MAX_MODELS_PER_WORKER && !this.stopping;
  }

  private async reconcileAll(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => this.reconciler.reconcile(s)));
  }

  private async followTraffic(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => this.candidates.follow(s)));
  }

  private async reapAll(): Promise<void> {
    for (const server of this.servers.values()) await this.reaper.reap(server);
  }

  private isStalled(server: ModelServer): boolean {
    return server.stalled(this.opts.config.LOOP_STALL_MS, this.opts.readBlockMs ?? 1000);
  }

  private anyStalled(): boolean {
    return [...this.servers.values()].some((s) => this.isStalled(s));
  }

  private connect(name: string, role: 'command' | 'blocking' | 'subscriber' = 'command'): RedisClient {
    const { config } = this.opts;
    return createRedisConnection(config, { name: `inference-worker:${config.WORKER_ID}:${name}`, logger: this.logger, role });
  }

  private async drain(): Promise<void> {
    const { logger } = this;
    const { config } = this.opts;
    logger.info('draining');
    for (const t of this.timers) t.stop();
    await this.status.setState('draining').catch(() => undefined);
    // Another worker takes over the fleet state at once, not after the controller lease's TTL.
    await this.controller.release().catch(() => undefined);
    const servers = [...this.servers.values()];
    const drained = await Promise.all(servers.map((s) => s.drain(config.SHUTDOWN_TIMEOUT_MS)));
    if (drained.includes(false)) {
      logger.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'an in-flight batch did not finish in time; its requests will be reclaimed by another worker');
      await this.abort();
      return;
    }
    await this.commands.stop();
    this.deployer.stop();
    await this.deployer.idle();
    await Promise.all(servers.map((s) => s.close()));
    await this.payloadLog.settled();
    await this.status.stop();
    await this.metricsServer?.close();
    await Promise.all([this.writer, this.subscriber].map((c) => c.quit().catch(() => c.disconnect())));
    logger.info('stopped');
  }
}
