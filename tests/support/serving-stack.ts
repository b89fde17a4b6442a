import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectRedis, type RedisClient } from '../../lib/queue/redis-connection';
import { apiSchema } from '../../api/config';
import { startApi, type RunningApi } from '../../api/server';
import { loadConfig } from '../../lib/env';
import { readActiveModel } from '../../lib/fleet/active-models';
import { FleetController } from '../../lib/fleet/fleet-controller';
import { fleetKeys, type ActiveModel, type ModelRef, type WorkerStatus } from '../../lib/fleet/protocol';
import { getWorkerStatus } from '../../lib/fleet/worker-statuses';
import { createLogger } from '../../lib/logger';
import { readModelMetadata } from '../../lib/model/metadata';
import { periodic } from '../../lib/process/periodic';
import { inferenceWorkerSchema } from '../../workers/inference/config';
import { InferenceWorker, type InferenceWorkerOptions } from '../../workers/inference/worker';
import { FakeModelRegistry } from './fake-model-registry';
import { deletePrefix, testRedisUrl, uniquePrefix } from './redis';
import { queueKeys } from '../../lib/queue/keys';
import { makeTestModel, refFor, type TestModel } from './test-model';

export const testLogger = () => createLogger('serving-test', process.env.TEST_LOG_LEVEL ?? 'silent');

/**
 * An in-process serving path against real Redis: the API (listening on a
 * random port) and any number of inference workers, isolated by a unique
 * REDIS_PREFIX and a temporary model cache. `close()` tears everything down.
 */
export class ServingStack {
  readonly registry = new FakeModelRegistry();
  readonly redis: RedisClient;
  readonly cacheDir: string;
  readonly workers: InferenceWorker[] = [];
  api: RunningApi | null = null;
  private controllerTimer: ReturnType<typeof periodic> | null = null;
  private controller: FleetController | null = null;
  private workerCount = 0;
  baseUrl = '';

  /**
   * `clusterNodes`: the seeds of a Redis Cluster (REDIS_CLUSTER_NODES) that the stack and every process it starts
   * use instead of the single Redis at `redisUrl`.
   */
  constructor(
    readonly prefix = uniquePrefix('serving'),
    readonly redisUrl = testRedisUrl(),
    readonly clusterNodes: string | undefined = process.env.TEST_REDIS_CLUSTER_NODES,
  ) {
    this.redis = connectRedis(this.target);
    this.cacheDir = mkdtempSync(join(tmpdir(), 'lifecycle-model-cache-'));
  }

  /** The transport's settings, as every process of the stack gets them. */
  get target(): { REDIS_URL: string; REDIS_CLUSTER_NODES?: string } {
    return { REDIS_URL: this.redisUrl, ...(this.clusterNodes ? { REDIS_CLUSTER_NODES: this.clusterNodes } : {}) };
  }

  get keys() {
    return fleetKeys(this.prefix);
  }

  /**
   * Makes `ref` (served from `bytes`) the registry's champion, as a promotion's alias move does, and waits
   * until the fleet controller has made it the fleet's active version: the workers' controller, or, before
   * any worker runs, the stack's own (as an existing fleet would have it).
   */
  async setActive(ref: ModelRef, bytes: Buffer): Promise<ActiveModel> {
    this.registry.add(ref, bytes).setAlias('champion', ref);
    if (this.workers.length === 0 && !this.controller) this.startController();
    await this.waitForActive(ref);
    return { ...ref, metadata: readModelMetadata(bytes) };
  }

  /** Waits until the fleet's active version of `ref`'s model is `ref`. */
  async waitForActive(ref: ModelRef, timeoutMs = 10_000): Promise<void> {
    await this.waitFor(async () => (await readActiveModel(this.redis, this.prefix, ref.name))?.version === ref.version, timeoutMs, `the fleet active version of ${ref.name} to be v${ref.version}`);
  }

  /** The request stream of `model`. */
  requestsKey(model = 'test-classifier'): string {
    return queueKeys(this.prefix).requests(model);
  }

  /**
   * A fleet controller of the stack's own, as if a worker that serves none of the test's models ran it: the
   * fleet's active versions exist before (and without) any worker, so an API alone can queue requests. Workers
   * started later stand by (it holds the controller lease) and take over when it stops.
   */
  startController(): FleetController {
    this.controller = new FleetController({
      redis: this.redis,
      prefix: this.prefix,
      holder: 'test-controller',
      registry: this.registry,
      // The stack's registry is its own: every model with a champion is the fleet's, workers or not.
      fleetModels: () => this.registry.modelsWithAlias('champion'),
      alias: 'champion',
      metadataOf: async (ref) => readModelMetadata(await this.registry.downloadArtifact(ref.artifactUri)),
      leaseTtlMs: 2000,
      registryCheckIntervalMs: 200,
      logger: testLogger(),
    });
    const controller = this.controller;
    this.controllerTimer = periodic(100, () => controller.tick(), () => undefined);
    this.controllerTimer.kick();
    return controller;
  }

  async startApi(env: Record<string, string> = {}): Promise<RunningApi> {
    const config = loadConfig(apiSchema, {
      ...this.target,
      REDIS_PREFIX: this.prefix,
      PORT: '0',
      MODEL_NAME: 'test-classifier',
      ACTIVE_MODEL_REFRESH_MS: '100',
      REQUEST_TIMEOUT_MS: '5000',
      // In-process, the API shares its event loop with the workers' model loads (seconds of synchronous
      // work): a 2 s reply timeout would fire on replies that arrived while the loop was blocked.
      REDIS_COMMAND_TIMEOUT_MS: '10000',
      // Prediction records in the shared Redis for 10 min, not a day: test runs do not pile them up.
      FEEDBACK_WINDOW_SECONDS: '600',
      ...env,
    });
    const api = await startApi(config, testLogger());
    const address = api.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('API did not listen on a TCP port');
    this.api = api;
    this.baseUrl = `http://127.0.0.1:${address.port}`;
    return api;
  }

  async startWorker(env: Record<string, string> = {}, extra: Partial<InferenceWorkerOptions> = {}): Promise<InferenceWorker> {
    const config = loadConfig(inferenceWorkerSchema, {
      ...this.target,
      REDIS_PREFIX: this.prefix,
      // Numbered when called, so workers started concurrently still get distinct ids.
      WORKER_ID: `w${++this.workerCount}`,
      METRICS_PORT: '0',
      MODEL_CACHE_DIR: this.cacheDir,
      MODEL_NAME: 'test-classifier',
      SERVED_MODELS: 'test-classifier',
      SHUTDOWN_TIMEOUT_MS: '3000',
      ...env,
    });
    const worker = await InferenceWorker.start({
      config,
      registry: this.registry,
      logger: testLogger(),
      readBlockMs: 200,
      ...extra,
    });
    this.workers.push(worker);
    return worker;
  }

  /** Waits until the API reports ready (its default model active and served by a worker). */
  async waitForApiReady(timeoutMs = 15_000): Promise<void> {
    await this.waitFor(async () => (await fetch(`${this.baseUrl}/readyz`)).status === 200, timeoutMs, 'the API to be ready');
  }

  /** POST /predict (or `path`) over real HTTP with `image` in field img_file. */
  async predict(image: Buffer, headers: Record<string, string> = {}, path = '/predict'): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
    const form = new FormData();
    form.append('img_file', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'image.png');
    const res = await fetch(`${this.baseUrl}${path}`, { method: 'POST', body: form, headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
  }

  async workerStatus(workerId: string): Promise<WorkerStatus | null> {
    return getWorkerStatus(this.redis, this.prefix, workerId);
  }

  /** Polls `check` until it returns a truthy value (or fails after `timeoutMs`). */
  async waitFor<T>(check: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async close(): Promise<void> {
    this.controllerTimer?.stop();
    await this.controller?.release().catch(() => undefined);
    await this.api?.close();
    await Promise.all(this.workers.map((w) => w.shutdown()));
    await deletePrefix(this.redis, this.prefix);
    await this.redis.quit();
    rmSync(this.cacheDir, { recursive: true, force: true });
  }
}

/**
 * Jest hooks the serving tests share: one real test model per file, and per
 * test a fresh ServingStack with that model active as version 1. Read
 * `fixture.stack` / `fixture.model` inside tests (they are set by the hooks).
 */
export function useServingStack(name: string): { stack: ServingStack; model: TestModel } {
  const fixture = {} as { stack: ServingStack; model: TestModel };
  let modelDir = '';
  beforeAll(() => {
    modelDir = mkdtempSync(join(tmpdir(), `${name}-`));
    fixture.model = makeTestModel(modelDir, { seed: 1 });
  });
  afterAll(() => rmSync(modelDir, { recursive: true, force: true }));
  beforeEach(async () => {
    fixture.stack = new ServingStack();
    await fixture.stack.setActive(refFor(fixture.model, '1'), fixture.model.bytes);
  });
  afterEach(() => fixture.stack.close());
  return fixture;
}
