import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RolloutLeases } from '../../lib/fleet/lease';
import type { WorkerStatus } from '../../lib/fleet/protocol';
import { publishWorkerStatus } from '../../lib/fleet/worker-statuses';
import { RolloutError, rolloutFleet, type RolloutProgress } from '../../lib/fleet/rollout';
import { createOrtSession, type CreateSession } from '../../lib/model/model-runner';
import { testImage } from '../support/images';
import { byStatus, startLoad } from '../support/load';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor } from '../support/test-model';

jest.setTimeout(60_000);

/** A lease whose renewals stop reaching Redis for a while (a network hiccup, a paused holder): it expires. */
class BlockableLeases extends RolloutLeases {
  blockedUntil = 0;
  override renew(model: string, deploymentId: string, ttlMs: number): Promise<boolean> {
    return Date.now() < this.blockedUntil ? Promise.resolve(true) : super.renew(model, deploymentId, ttlMs);
  }
}

describe('rollout lease', () => {
  let dir: string;
  let stack: ServingStack;
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a rollout whose lease expires under it stops without moving another worker, and the fleet ends on one version', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-lease-'));
    const [v1, v2] = [makeTestModel(dir, { seed: 31 }), makeTestModel(dir, { seed: 32 })];
    const [ref1, ref2] = [refFor(v1, '1'), refFor(v2, '2')];
    stack = new ServingStack();
    stack.registry.add(ref2, v2.bytes);
    stack.startController();
    await stack.setActive(ref1, v1.bytes);
    // Loading v2 takes 2 s, so the rollout is waiting for its second worker while the lease runs out.
    const v2Loads: string[] = [];
    const slowV2 =
      (workerId: string): CreateSession =>
      async (onnx, opts) => {
        if (Buffer.from(onnx).equals(v2.bytes)) {
          v2Loads.push(workerId);
          await new Promise((r) => setTimeout(r, 2000));
        }
        return createOrtSession(onnx, opts);
      };
    const workers = await Promise.all(['w1', 'w2', 'w3'].map((id) => stack.startWorker({ WORKER_ID: id, RECONCILE_INTERVAL_MS: '200' }, { createSession: slowV2(id) })));
    await Promise.all(workers.map((w) => w.ready()));
    await stack.startApi();
    const images = await Promise.all(Array.from({ length: 4 }, (_, i) => testImage(i)));
    const load = startLoad({ url: () => `${stack.baseUrl}/predict`, images, concurrency: 4 });

    const leases = new BlockableLeases(stack.redis, stack.prefix);
    const heartbeat = (p: RolloutProgress) => {
      // The first worker is done and the second is loading: from now on the renewals go nowhere.
      if (p.phase === 'rollout' && p.done === 1 && leases.blockedUntil === 0) leases.blockedUntil = Date.now() + 1500;
    };
    const rollout = rolloutFleet(ref2, 'lease-test', { timeoutMs: 30_000 }, { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 600, heartbeat, pollIntervalMs: 100 });
    const err = await rollout.then(() => null, (e: unknown) => e);

    expect(err).toBeInstanceOf(RolloutError);
    expect((err as RolloutError).code).toBe('LEASE_LOST');
    expect((err as RolloutError).retryable).toBe(false);
    // w3 was never asked: the rollout stopped while waiting for w2.
    expect(v2Loads.sort()).toEqual(['w1', 'w2']);
    expect(await leases.holder('test-classifier')).toBeNull();
    // Nobody holds the model now: every worker converges on the fleet's active version, v1.
    await stack.waitFor(() => workers.every((w) => w.current.models['test-classifier']?.version === '1' && w.current.models['test-classifier']?.state === 'ready'), 15_000, 'every worker back on v1');
    const outcomes = await load.stop();
    expect(v2Loads.sort()).toEqual(['w1', 'w2']);
    expect(byStatus(outcomes)).toEqual({ 200: outcomes.length });
    expect(outcomes.length).toBeGreaterThan(20);
  });
});

describe('rollout command to a restarted worker', () => {
  let dir: string;
  let stack: ServingStack;
  afterAll(async () => {
    await stack.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a worker that restarts under its id while the rollout waits on it gets the deploy command again at once', async () => {
    dir = mkdtempSync(join(tmpdir(), 'rollout-restart-'));
    const [v1, v2] = [makeTestModel(dir, { seed: 33 }), makeTestModel(dir, { seed: 34 })];
    const [ref1, ref2] = [refFor(v1, '1'), refFor(v2, '2')];
    stack = new ServingStack();
    stack.registry.add(ref2, v2.bytes);
    stack.startController();
    await stack.setActive(ref1, v1.bytes);
    // The status a worker process left before it was killed: the rollout's first command goes to nobody.
    const before: WorkerStatus = { workerId: 'w1', state: 'ready', models: { [ref1.name]: { version: '1', sha256: ref1.sha256, state: 'ready' } }, startedAt: 1, updatedAt: Date.now() };
    await publishWorkerStatus(stack.redis, stack.prefix, before, 30_000);
    const leases = new RolloutLeases(stack.redis, stack.prefix);
    let sent = false;
    const heartbeat = (p: RolloutProgress) => void (sent ||= p.phase === 'rollout');
    // A resend period past the rollout's deadline: only the restart can bring the command to the new process.
    const rollout = rolloutFleet(ref2, 'restart-test', { timeoutMs: 20_000 }, { redis: stack.redis, prefix: stack.prefix, leases, leaseTtlMs: 10_000, heartbeat, pollIntervalMs: 100, resendMs: 60_000 });
    await stack.waitFor(() => sent, 5000, 'the first deploy command');
    const worker = await stack.startWorker({ WORKER_ID: 'w1' });

    await expect(rollout).resolves.toEqual({ workers: ['w1'] });
    expect(worker.current.models[ref2.name]).toMatchObject({ version: '2', state: 'ready' });
  });
});
