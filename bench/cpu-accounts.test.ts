import { Worker } from 'node:worker_threads';
import { accountCpu, snapshotCpu } from './cpu-accounts';

describe('CPU accounts from /proc', () => {
  it('finds a busy thread of a process and counts it in the process and the machine', async () => {
    // A worker thread spins while the main thread waits: that thread is the busiest one. (Measured while it
    // lives: a thread that has ended is no longer listed in /proc, only in its process's total.)
    const spin = new Worker('while (true) {}', { eval: true });
    await new Promise((resolve) => spin.once('online', resolve));
    const before = snapshotCpu([process.pid]);
    await new Promise((resolve) => setTimeout(resolve, 800));
    const account = accountCpu(before, snapshotCpu([process.pid]));
    await spin.terminate();
    const self = account.byPid.get(process.pid)!;
    expect(self.busiestThreadCores).toBeGreaterThan(0.3);
    expect(self.cores).toBeGreaterThanOrEqual(self.busiestThreadCores);
    expect(account.machineCores).toBeGreaterThanOrEqual(self.busiestThreadCores * 0.9);
  });

  it('leaves out a process that is not on this machine', () => {
    const missing = 2 ** 22 + 1; // above Linux's largest pid
    const account = accountCpu(snapshotCpu([missing]), snapshotCpu([missing]));
    expect(account.byPid.has(missing)).toBe(false);
  });
});
