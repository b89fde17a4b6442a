import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackctl as runStackctl } from './support/stackctl';

/**
 * Two Lifecycle stacks side by side on one machine, the way the README says (a second one moved by
 * LIFECYCLE_PORT_OFFSET=100): their port plans share no port (once, 9090 + 100 was the first stack's
 * restart-counter port), and the light parts of both (Temporal dev server, Prometheus when installed,
 * the restart counters under each supervisord) really run at once.
 *
 * The first stack sits at offset BASE, not 0, and the second at BASE + 100: BASE = 4500 keeps both
 * plans off those of stacks at offsets 0 (`make test`'s services), 100, 600 (the CI drills), 1000, 2000,
 * 3000 and 4000 that developers run on the same machine (checked below with `stackctl plan`).
 */
const BASE = 4500;
const SUGGESTED = 100; // the README's and infra/local/stackctl/offsets.py's
// Settings of the caller's stack (test.sh exports some) that must not leak into the stacks under test.
const STACK_ENV = /^(LIFECYCLE_.*|.*_PORT|PORT|TEMPORAL_ADDRESS|MLFLOW_.*|API_INSTANCES|.*_WORKERS|REDIS_PREFIX)$/;

interface PlannedPort { port: number; what: string; variable: string }

const stackctl = (args: string[], env: Record<string, string>) => runStackctl(args, env, STACK_ENV);

async function plan(offset: number): Promise<number[]> {
  const run = await stackctl(['plan', '--json'], { LIFECYCLE_PORT_OFFSET: String(offset) });
  expect(run.code).toBe(0);
  return (JSON.parse(run.stdout) as PlannedPort[]).map((p) => p.port);
}

const shared = (a: number[], b: number[]) => a.filter((p) => b.includes(p));

describe(`two stacks side by side (LIFECYCLE_PORT_OFFSET ${BASE} and ${BASE + SUGGESTED})`, () => {
  const states = [mkdtempSync(join(tmpdir(), 'lc-two-a-')), mkdtempSync(join(tmpdir(), 'lc-two-b-')), mkdtempSync(join(tmpdir(), 'lc-two-c-'))];
  const envOf = (i: number, offset: number) => ({ LIFECYCLE_STATE_DIR: states[i]!, LIFECYCLE_PORT_OFFSET: String(offset) });

  afterAll(async () => {
    for (const state of states) {
      await stackctl(['down'], { LIFECYCLE_STATE_DIR: state });
      await rm(state, { recursive: true, force: true });
    }
  });

  it('the plan of a stack moved by the suggested offset shares no port with the first one', async () => {
    const [one, two] = [await plan(BASE), await plan(BASE + SUGGESTED)];
    expect(one.length).toBeGreaterThanOrEqual(12);
    expect(shared(one, two)).toEqual([]);
    expect((await stackctl(['plan', '--beside', String(SUGGESTED)], envOf(0, BASE))).code).toBe(0);
    // And off the stacks developers and CI run on this machine at the usual offsets.
    for (const other of [0, 100, 600, 1000, 2000, 3000, 4000]) {
      const theirs = await plan(other);
      expect({ other, shared: [...shared(one, theirs), ...shared(two, theirs)] }).toEqual({ other, shared: [] });
    }
  });

  it('names the port an offset would share: 1000 puts Temporal gRPC on the Temporal UI port', async () => {
    const run = await stackctl(['plan', '--beside', '1000'], envOf(0, BASE));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`port ${8233 + BASE} is Temporal UI (TEMPORAL_UI_PORT) of the stack at LIFECYCLE_PORT_OFFSET=${BASE} and Temporal gRPC`);
    expect(run.stderr).toContain(`LIFECYCLE_PORT_OFFSET=${BASE + 1000}`);
  });

  it('starts the light services of both, and a third stack on the first one\'s ports is told an offset that is free', async () => {
    const services = ['services', 'up', 'temporal', 'prometheus', '--restart-counter'];
    const first = await stackctl(services, envOf(0, BASE));
    expect(first).toMatchObject({ code: 0 });
    // The second stack's whole plan (apps included) is free beside the first, then its services start.
    const check = await stackctl(['check', '--apps', 'redis', 'temporal', 'mlflow', 'prometheus'], envOf(1, BASE + SUGGESTED));
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(await stackctl(services, envOf(1, BASE + SUGGESTED))).toMatchObject({ code: 0 });

    for (const [i, offset] of [[0, BASE], [1, BASE + SUGGESTED]] as const) {
      expect((await stackctl(['ping', 'temporal'], envOf(i, offset))).code).toBe(0);
      const counters = await fetch(`http://127.0.0.1:${9191 + offset}/metrics`);
      expect(counters.status).toBe(200);
      const status = JSON.parse((await stackctl(['status', '--json'], envOf(i, offset))).stdout) as unknown;
      expect(JSON.stringify(status)).toContain(states[i]);
    }

    // A third stack at the first one's offset: refused, naming the holder, with an offset checked free now.
    const third = await stackctl(['check', '--apps', 'redis', 'temporal', 'mlflow', 'prometheus'], envOf(2, BASE));
    expect(third.code).toBe(2);
    expect(third.stderr).toContain(`of the Lifecycle stack with state dir ${states[0]}`);
    const suggested = Number(/LIFECYCLE_PORT_OFFSET=(\d+) make up/.exec(third.stderr)?.[1]);
    expect(suggested).toBeGreaterThan(0);
    expect(shared(await plan(suggested), await plan(BASE))).toEqual([]);
    expect(await stackctl(['check', '--apps', 'redis', 'temporal', 'mlflow', 'prometheus'], envOf(2, suggested))).toMatchObject({ code: 0 });
  });
});
