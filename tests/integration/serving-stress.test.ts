import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readActiveModel } from '../../lib/fleet/active-models';
import { RolloutLeases } from '../../lib/fleet/lease';
import type { ModelRef } from '../../lib/fleet/protocol';
import { finalizeRollout, rolloutFleet, type RolloutDeps } from '../../lib/fleet/rollout';
import { listWorkerStatuses } from '../../lib/fleet/worker-statuses';
import { MlflowClient, modelRefOf } from '../../lib/mlflow/client';
import { readModelMetadata } from '../../lib/model/metadata';
import { startProcess, type RunningProcess } from '../support/child-process';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, uniqueId } from './support/env';

/** How many rollouts (alternating between the two models); STRESS_ROLLOUTS overrides it for longer soaks. */
const ROLLOUTS = Number(process.env.STRESS_ROLLOUTS ?? 100);
// About 2 min on 2 quiet cores; a bound that keeps a stuck run from eating the CI budget.
jest.setTimeout(10 * 60_000);

interface Versioned {
  ref: ModelRef;
  bytes: Buffer;
}

/**
 * The fleet under churn: two models served by two inference worker processes,
 * rolled out again and again (the library calls the saga's activities make:
 * rollout, alias move in the real MLflow, finalize) under a steady load on
 * both, with a worker killed (-9, restarted under its name at once, as
 * supervisord does) or frozen (SIGSTOP for 2 s, past its 1.5 s liveness, then SIGCONT) every
 * few rollouts. Every accepted request must be answered 200 before its
 * deadline, and after every rollout the registry alias, the fleet's active
 * version and every live worker must agree.
 */
describe('serving under many rollouts of two models with worker kills and freezes', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const names = { gray: uniqueId('stress-gray'), rgb: uniqueId('stress-rgb') };
  let dir: string;
  let stack: ServingStack;
  const workers = new Map<string, RunningProcess>();

  // Set when the suite ends: a body that timed out stops at its next rollout instead of running on into later files.
  let ended = false;
  afterAll(async () => {
    ended = true;
    for (const w of workers.values()) {
      w.child.kill('SIGCONT');
      w.child.kill('SIGKILL');
    }
    await Promise.all([...workers.values()].map((w) => w.exited));
    await stack?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function register(name: string, models: TestModel[]): Promise<Versioned[]> {
    const out: Versioned[] = [];
    for (const [i, model] of models.entries()) {
      const { version } = await registerTestModel(mlflow, name, model, i === 0 ? 'champion' : undefined);
      out.push({ ref: modelRefOf(await mlflow.getModelVersion(name, version)), bytes: model.bytes });
    }
    return out;
  }

  function startWorker(id: string): RunningProcess {
    const proc = startProcess('workers/inference-worker.ts', {
      ...stack.target,
      REDIS_PREFIX: stack.prefix,
      MLFLOW_TRACKING_URI,
      MODEL_NAME: names.gray,
      SERVED_MODELS: `${names.gray},${names.rgb}`,
      WORKER_ID: id,
      METRICS_PORT: '0',
      MODEL_CACHE_DIR: stack.cacheDir,
      LOG_LEVEL: 'warn',
    });
    workers.set(id, proc);
    return proc;
  }

  /** Waits until alias, fleet active version and every live worker agree on `expected` for `model`. */
  async function agreed(model: string, expected: string): Promise<void> {
    await stack.waitFor(async () => {
      const alias = (await mlflow.getModelVersionByAlias(model, 'champion'))?.version;
      const active = (await readActiveModel(stack.redis, stack.prefix, model))?.version;
      const live = await listWorkerStatuses(stack.redis, stack.prefix);
      const served = live.map((w) => w.models[model]);
      return alias === expected && active === expected && live.length === 2 && served.every((s) => s?.version === expected && s.state === 'ready');
    }, 30_000, `${model}: alias, fleet active version and both workers on v${expected}`);
  }

  it(`answers every request through ${ROLLOUTS} rollouts with kills and freezes in between, and the fleet agrees after each`, async () => {
    dir = mkdtempSync(join(tmpdir(), 'serving-stress-'));
    const gray = await register(names.gray, [1, 2, 3].map((seed) => makeTestModel(dir, { seed: 40 + seed })));
    const rgb = await register(
      names.rgb,
      [1, 2, 3].map((seed) => makeTestModel(dir, { seed: 50 + seed, size: 32, channels: 3, labels: ['a', 'b', 'c'], mean: 0.5, std: 0.25 })),
    );
    stack = new ServingStack();
    for (const id of ['s1', 's2']) startWorker(id);
    await agreed(names.gray, gray[0]!.ref.version);
    await agreed(names.rgb, rgb[0]!.ref.version);
    await stack.startApi({ MODEL_NAME: names.gray, REQUEST_TIMEOUT_MS: '10000' });

    const images = await Promise.all(Array.from({ length: 16 }, (_, i) => testImage(i)));
    const loads = [
      startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4 }),
      startLoad({ url: () => `${stack.baseUrl}/models/${names.rgb}/predict`, images, concurrency: 2 }),
    ];
    const leases = new RolloutLeases(stack.redis, stack.prefix);
    const deps: RolloutDeps = { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 30_000, heartbeat: () => undefined, pollIntervalMs: 50 };
    const faults: string[] = [];
    const faultsDone: Array<Promise<void>> = [];

    const startedAt = Date.now();
    for (let i = 0; i < ROLLOUTS; i++) {
      if (ended) throw new Error(`stopped after ${i} rollouts: the suite ended`);
      // Progress in the CI log: where the time goes if this test is ever slow.
      if (i % 10 === 0) console.log(`serving-stress: rollout ${i}/${ROLLOUTS} at ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
      const [name, versions] = i % 2 === 0 ? [names.gray, gray] : [names.rgb, rgb];
      const target = versions[(Math.floor(i / 2) + 1) % versions.length]!;
      const worker = `s${(Math.floor(i / 10) % 2) + 1}`;
      if (i % 10 === 3) {
        // kill -9 and an immediate restart under the same name, as supervisord does.
        workers.get(worker)!.child.kill('SIGKILL');
        await workers.get(worker)!.exited;
        startWorker(worker);
        faults.push(`#${i}: kill -9 ${worker}`);
      } else if (i % 10 === 7) {
        // Frozen past its liveness TTL (1.5 s) in the middle of the rollout, then thawed.
        const child = workers.get(worker)!.child;
        child.kill('SIGSTOP');
        faultsDone.push(new Promise((resolve) => setTimeout(() => resolve(void child.kill('SIGCONT')), 2000)));
        faults.push(`#${i}: SIGSTOP ${worker} for 2 s`);
      }
      const deploymentId = `stress-${i}`;
      await rolloutFleet(target.ref, deploymentId, { timeoutMs: 60_000 }, deps);
      await mlflow.setAlias(name, 'champion', target.ref.version);
      await finalizeRollout({ ...target.ref, metadata: readModelMetadata(target.bytes) }, deploymentId, deps);
      await leases.release(name, deploymentId);
      await Promise.all(faultsDone.splice(0));
      await agreed(name, target.ref.version);
    }

    const [grayOutcomes, rgbOutcomes] = await Promise.all(loads.map((l) => l.stop()));
    const all = [...grayOutcomes!, ...rgbOutcomes!];
    if (byStatus(all)[200] !== all.length) console.log(JSON.stringify(all.filter((o) => o.status !== 200).slice(0, 10)), faults);
    expect(byStatus(all)).toEqual({ 200: all.length });
    expect(grayOutcomes!.length).toBeGreaterThan(ROLLOUTS);
    expect(rgbOutcomes!.length).toBeGreaterThan(ROLLOUTS / 2);
    // Nothing left in either queue: every accepted request was answered and acknowledged.
    for (const name of Object.values(names)) await stack.waitFor(async () => (await stack.redis.xlen(stack.requestsKey(name))) === 0, 10_000, `an empty ${name} queue`);
  });
});
