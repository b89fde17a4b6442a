/**
 * The drills' load generator: `connections` closed-loop clients posting held-out images to
 * POST /predict on one or more API instances, paced to at most `rate` requests per second
 * (the drills measure correctness, not speed, and the machine is shared), recording every
 * request's fate so nothing can go missing silently:
 *
 *   ok           200 with a model version
 *   error        any other HTTP answer (counted by status)
 *   conn-failed  the connection broke with the request in flight (its API process died)
 *   lost         no answer at all before the client's timeout (a hang past the deadline)
 *
 * Like a load balancer, a refused connection (nothing listens any more) is not a failure of
 * that request: the instance is taken out of rotation until its /readyz answers again, and
 * the request goes to another instance.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export type Outcome = 'ok' | 'error' | 'conn-failed' | 'lost';

export interface RequestRecord {
  target: string;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  /** HTTP status, 0 without an answer. */
  status: number;
  /** The model version that answered (200s). */
  version?: string;
  code?: string;
  retryAfter?: string;
  error?: string;
}

export interface LoadOptions {
  /** API base URLs (http://127.0.0.1:8000). */
  targets: string[];
  images: Buffer[];
  connections: number;
  /** Ceiling on requests per second over all clients; 0 = as fast as answers come. */
  rate: number;
  /** A request with no answer after this long counts as lost. */
  timeoutMs: number;
}

export interface LoadSummary {
  connections: number;
  seconds: number;
  rps: number;
  sent: number;
  ok: number;
  /** Answers other than 200, by status. */
  errors: Record<string, number>;
  connFailed: number;
  lost: number;
  /** Requests sent again to another instance after a refused connection (not failures). */
  rerouted: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const predictBodyVersion = (body: unknown): string | undefined => {
  const model = (body as { model?: { version?: unknown } } | null)?.model;
  return typeof model?.version === 'string' ? model.version : undefined;
};

function errorCode(err: unknown): string {
  const e = err as { name?: string; code?: string; cause?: { code?: string; name?: string } };
  if (e.name === 'TimeoutError' || e.cause?.name === 'TimeoutError') return 'TIMEOUT';
  return e.cause?.code ?? e.code ?? e.name ?? 'UNKNOWN';
}

export class Load {
  readonly records: RequestRecord[] = [];
  private readonly down = new Set<string>();
  private readonly inFlight = new Map<string, number>();
  private stopped = false;
  private rerouted = 0;
  private nextSlot = 0;
  private rr = 0;
  private readonly startedAt = Date.now();
  private readonly clients: Promise<void>[];
  private readonly prober: NodeJS.Timeout;

  private constructor(private readonly opts: LoadOptions) {
    if (opts.targets.length === 0 || opts.images.length === 0) throw new Error('the load needs at least one target and one image');
    this.clients = Array.from({ length: opts.connections }, (_, i) => this.client(i));
    this.prober = setInterval(() => void this.probeDown(), 500);
  }

  static start(opts: LoadOptions): Load {
    return new Load(opts);
  }

  /** Requests on `target` that have not been answered yet (what a kill of that instance catches in flight). */
  inFlightOn(target: string): number {
    return this.inFlight.get(target) ?? 0;
  }

  /** Answered requests so far matching `pred` (all by default). */
  count(pred: (r: RequestRecord) => boolean = () => true): number {
    return this.records.reduce((n, r) => n + (pred(r) ? 1 : 0), 0);
  }

  /** Waits until `n` requests sent after `since` were answered 200 (or `timeoutMs` passes); returns whether they were. */
  async okAfter(since: number, n: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.count((r) => r.outcome === 'ok' && r.startedAt >= since) < n) {
      if (Date.now() > deadline) return false;
      await sleep(100);
    }
    return true;
  }

  /** Stops sending, waits for every request in flight to end, and summarises. */
  async stop(): Promise<LoadSummary> {
    this.stopped = true;
    await Promise.all(this.clients);
    clearInterval(this.prober);
    return summarise(this.records, this.opts.connections, (Date.now() - this.startedAt) / 1000, this.rerouted);
  }

  private async client(index: number): Promise<void> {
    let i = index;
    while (!this.stopped) {
      await this.pace();
      if (this.stopped) break;
      this.records.push(await this.send(this.opts.images[i % this.opts.images.length]!));
      i += this.opts.connections;
    }
  }

  private async pace(): Promise<void> {
    if (this.opts.rate <= 0) return;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + 1000 / this.opts.rate;
    if (slot > now) await sleep(slot - now);
  }

  private pickTarget(): string | null {
    const up = this.opts.targets.filter((t) => !this.down.has(t));
    if (up.length === 0) return null;
    return up[this.rr++ % up.length]!;
  }

  private async send(png: Buffer): Promise<RequestRecord> {
    const startedAt = Date.now();
    const deadline = startedAt + this.opts.timeoutMs;
    for (;;) {
      const target = this.pickTarget();
      if (target === null) {
        // Every instance refused: nothing to send to; wait for one to come back, or give up at the deadline.
        if (Date.now() > deadline) return { target: '', startedAt, endedAt: Date.now(), outcome: 'conn-failed', status: 0, error: 'ECONNREFUSED (every instance)' };
        await sleep(100);
        continue;
      }
      const rec = await this.post(target, png, startedAt, deadline);
      if (rec !== 'refused') return rec;
      this.down.add(target);
      this.rerouted++;
    }
  }

  private async post(target: string, png: Buffer, startedAt: number, deadline: number): Promise<RequestRecord | 'refused'> {
    const form = new FormData();
    form.append('img_file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'drill.png');
    this.inFlight.set(target, this.inFlightOn(target) + 1);
    try {
      const res = await fetch(`${target}/predict`, { method: 'POST', body: form, signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
      const text = await res.text();
      let body: unknown = null;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: recorded as an error below
      }
      const base = { target, startedAt, endedAt: Date.now(), status: res.status, retryAfter: res.headers.get('retry-after') ?? undefined };
      const version = predictBodyVersion(body);
      if (res.status === 200 && version) return { ...base, outcome: 'ok', version };
      const code = (body as { code?: string } | null)?.code ?? (res.status === 200 ? 'BAD_BODY' : undefined);
      return { ...base, outcome: 'error', code };
    } catch (err) {
      const code = errorCode(err);
      if (code === 'ECONNREFUSED') return 'refused';
      const outcome: Outcome = code === 'TIMEOUT' ? 'lost' : 'conn-failed';
      return { target, startedAt, endedAt: Date.now(), outcome, status: 0, error: code };
    } finally {
      this.inFlight.set(target, this.inFlightOn(target) - 1);
    }
  }

  private async probeDown(): Promise<void> {
    for (const target of [...this.down]) {
      const res = await fetch(`${target}/readyz`, { signal: AbortSignal.timeout(1000) }).catch(() => null);
      if (res?.status === 200) this.down.delete(target);
    }
  }
}

export function summarise(records: RequestRecord[], connections: number, seconds: number, rerouted = 0): LoadSummary {
  const errors: Record<string, number> = {};
  for (const r of records) if (r.outcome === 'error') errors[String(r.status)] = (errors[String(r.status)] ?? 0) + 1;
  const ms = records.filter((r) => r.status > 0).map((r) => r.endedAt - r.startedAt).sort((a, b) => a - b);
  const pct = (p: number) => (ms.length === 0 ? 0 : ms[Math.min(ms.length - 1, Math.floor(p * ms.length))]!);
  return {
    connections,
    seconds: +seconds.toFixed(1),
    rps: +(records.length / Math.max(seconds, 0.001)).toFixed(1),
    sent: records.length,
    ok: records.filter((r) => r.outcome === 'ok').length,
    errors,
    connFailed: records.filter((r) => r.outcome === 'conn-failed').length,
    lost: records.filter((r) => r.outcome === 'lost').length,
    rerouted,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
    maxMs: records.reduce((m, r) => Math.max(m, r.endedAt - r.startedAt), 0),
  };
}
