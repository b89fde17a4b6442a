/**
 * What a drill is and what it reports. A drill applies one fault to the live stack under
 * load, then states every way the system fell short as a `problem`: any problem fails the
 * drill (and `npm run drills` exits non-zero). Everything a drill starts or changes is
 * undone by the cleanups it registers, which run even when the drill throws.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Load, type LoadSummary } from './load';
import type { Stack } from './stack';

export interface DrillOptions {
  /** The short CI version: shorter waits and outages. */
  ci: boolean;
  connections: number;
  /** Ceiling on the load's requests per second. */
  rate: number;
}

export interface DrillReport {
  load: LoadSummary | null;
  /** How the workflow the drill ran (or broke) ended; '-' when there was none. */
  workflow: string;
  /** Time from the fault until the system was whole again (what that means is in `recoveredWhen`). */
  recoverMs: number | null;
  recoveredWhen: string;
}

export interface DrillResult extends DrillReport {
  name: string;
  fault: string;
  passed: boolean;
  problems: string[];
  notes: string[];
  durationMs: number;
}

export interface Drill {
  /** Short name used on the command line (`npm run drills -- worker-kill`). */
  name: string;
  fault: string;
  /** Part of `--ci`. */
  ci: boolean;
  run(ctx: DrillContext): Promise<DrillReport>;
}

export class DrillContext {
  readonly problems: string[] = [];
  readonly notes: string[] = [];
  private readonly cleanups: { what: string; fn: () => Promise<unknown> }[] = [];

  constructor(
    readonly stack: Stack,
    readonly options: DrillOptions,
    readonly images: Buffer[],
    readonly drillName: string,
  ) {}

  /** How long the load runs before the fault and after recovery. */
  get settleMs(): number {
    return this.options.ci ? 1500 : 3000;
  }

  log(message: string): void {
    console.log(`  [${this.drillName}] ${message}`);
  }

  /** Records a problem unless `ok`. */
  expect(ok: boolean, problem: string): boolean {
    if (!ok) this.problems.push(problem);
    return ok;
  }

  note(message: string): void {
    this.notes.push(message);
  }

  /** Registers an undo step; they run last-first after the drill, whatever happened. */
  defer(what: string, fn: () => Promise<unknown>): void {
    this.cleanups.push({ what, fn });
  }

  /** Starts the load on `targets` (default: the stack's APIs); it is stopped at cleanup if the drill does not stop it. */
  startLoad(targets: string[] = this.stack.apiUrls): Load {
    const load = Load.start({
      targets,
      images: this.images,
      connections: this.options.connections,
      rate: this.options.rate,
      // The API answers 504 at its 10 s deadline: silence well past it is a hang.
      timeoutMs: 20_000,
    });
    this.defer('stop the load', () => load.stop());
    return load;
  }

  async settle(): Promise<void> {
    await sleep(this.settleMs);
  }

  async cleanup(): Promise<void> {
    for (const { what, fn } of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        this.problems.push(`cleanup failed (${what}): ${(err as Error).message}`);
      }
    }
    this.cleanups.length = 0;
  }
}

/** The load's own verdict: nothing lost, nothing failed (drills that expect errors check their own way). */
export function expectCleanLoad(ctx: DrillContext, load: LoadSummary): void {
  ctx.expect(load.lost === 0, `${load.lost} request(s) lost (no answer within 20 s)`);
  ctx.expect(load.connFailed === 0, `${load.connFailed} request(s) failed at the connection`);
  const errors = Object.entries(load.errors);
  ctx.expect(errors.length === 0, `answered with errors: ${errors.map(([s, n]) => `${n}x ${s}`).join(', ')}`);
  ctx.expect(load.ok > 0, 'no request was answered 200');
}

/** Polls `check` every `everyMs` until it returns true; returns the elapsed ms, or null after `timeoutMs`. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 200): Promise<number | null> {
  const t0 = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) return null;
    await sleep(everyMs);
  }
}
