import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { RolloutInput } from '../../lib/lifecycle/rollout-config';
import type { TrainAndPromoteInput } from '../../lib/lifecycle/types';
import type { trainAndPromote } from '../../workflows/train-and-promote';
import type { promoteVersion } from '../../workflows/promote-version';
import type { checkDatasetUpdates } from '../../workflows/check-datasets';
import type { FakeWorld } from './fake-world';
import { bundleWorkflows, startTestServer } from './test-env';

/** Timeouts short enough for tests on a server that cannot skip time. */
export const FAST_TIMEOUTS = {
  trainingHeartbeat: '5 seconds',
  aliasMove: '3 seconds',
  cleanup: '1 minute',
  leaseWait: '1 minute',
  deploy: '1 minute',
  rolloutHeartbeat: '5 seconds',
  maxRetryInterval: '500 ms',
};

/** The saga's all-at-once path: what the tests written before progressive delivery exercise. */
export const ALL_AT_ONCE: RolloutInput = { strategy: 'all-at-once' };

/** A progressive rollout on a test's clock: two short steps, analyses every 300 ms, few samples. */
export const FAST_ROLLOUT: RolloutInput = {
  strategy: 'progressive',
  analysisInterval: '300 ms',
  steps: [
    { mode: 'shadow', share: 1, minDuration: '600 ms', maxDuration: '3 seconds', minSamples: 100 },
    { mode: 'canary', share: 0.2, minDuration: '600 ms', maxDuration: '3 seconds', minSamples: 100 },
  ],
  criteria: { minLatencySamples: 10 },
};

/** A dev server and the workflow bundle, shared by a test file; a worker with a world's fake activities per test. */
export class Harness {
  private constructor(
    readonly env: TestWorkflowEnvironment,
    private readonly bundle: WorkflowBundleWithSourceMap,
  ) {}

  static async start(): Promise<Harness> {
    const [env, bundle] = await Promise.all([startTestServer(), bundleWorkflows()]);
    return new Harness(env, bundle);
  }

  get client(): Client {
    return this.env.client;
  }

  /** Runs `fn` while a worker serves the world's activities (pipeline and training) on a fresh task queue. */
  async run<T>(world: FakeWorld, fn: (taskQueue: string) => Promise<T>): Promise<T> {
    const taskQueue = `q-${randomUUID()}`;
    const worker = await Worker.create({
      connection: this.env.nativeConnection,
      taskQueue,
      workflowBundle: this.bundle,
      activities: world.activities(),
      maxHeartbeatThrottleInterval: '100 ms',
    });
    return worker.runUntil(fn(taskQueue));
  }

  /**
   * trainAndPromote input for a world: one queue for both sides, fast timeouts, and the saga's
   * all-at-once path unless a test asks for a progressive rollout (FAST_ROLLOUT).
   */
  input(world: FakeWorld, taskQueue: string, extra: Partial<TrainAndPromoteInput> = {}): TrainAndPromoteInput {
    return { modelName: world.modelName, trainingTaskQueue: taskQueue, timeouts: FAST_TIMEOUTS, rollout: ALL_AT_ONCE, ...extra };
  }

  /** Starts trainAndPromote (or its alias `train-and-promote`) with the world's fast input. */
  startTrain(world: FakeWorld, taskQueue: string, opts: { id?: string; type?: string; extra?: Partial<TrainAndPromoteInput> & Record<string, unknown> } = {}) {
    return this.client.workflow.start<typeof trainAndPromote>(opts.type ?? 'trainAndPromote', {
      taskQueue,
      workflowId: opts.id ?? uid('train'),
      args: [this.input(world, taskQueue, opts.extra)],
    });
  }

  startPromote(world: FakeWorld, taskQueue: string, extra: Record<string, unknown>) {
    return this.client.workflow.start<typeof promoteVersion>('promoteVersion', {
      taskQueue,
      workflowId: uid('promote'),
      args: [{ modelName: world.modelName, trainingTaskQueue: taskQueue, timeouts: FAST_TIMEOUTS, rollout: ALL_AT_ONCE, ...extra }],
    });
  }

  /** Runs the data trigger once to completion. */
  check(world: FakeWorld, taskQueue: string, paths: string[]) {
    return this.client.workflow.execute<typeof checkDatasetUpdates>('checkDatasetUpdates', {
      taskQueue,
      workflowId: uid('check'),
      args: [{ modelName: world.modelName, paths, train: { trainingTaskQueue: taskQueue, timeouts: FAST_TIMEOUTS, rollout: ALL_AT_ONCE } }],
    });
  }

  async stop(): Promise<void> {
    await this.env.teardown();
  }
}

export const uid = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

/**
 * One Harness for the calling describe block: started in its beforeAll (the dev server and the bundle
 * take seconds), stopped in its afterAll. The returned object forwards to it, so tests keep writing
 * `h.run(...)`; touching it outside a test (before beforeAll ran) throws.
 */
export function suiteHarness(): Harness {
  let started: Harness | null = null;
  beforeAll(async () => {
    started = await Harness.start();
  }, 120_000);
  afterAll(() => started?.stop());
  return new Proxy({} as Harness, {
    get(_target, key) {
      if (!started) throw new Error('the suite harness starts in beforeAll: use it inside tests');
      const value: unknown = Reflect.get(started, key, started);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(started) : value;
    },
  });
}
