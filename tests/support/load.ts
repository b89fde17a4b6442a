/** One answered (or failed) request of a test load. */
export interface Outcome {
  index: number;
  /** Epoch ms the request was sent (to place it in a phase of what ran meanwhile). */
  at: number;
  status: number;
  ms: number;
  retryAfter: string | null;
  body: Record<string, unknown> | null;
  /** Set when the request got no HTTP answer at all (connection error). */
  error?: string;
}

/**
 * A closed-loop test load: `concurrency` clients post `images[i % n]` to
 * `url` until `total` requests were sent or `stop()` is called, recording every
 * outcome (including transport errors, so nothing can go missing silently).
 */
export function startLoad(opts: { url: () => string; images: Buffer[]; concurrency: number; total?: number; timeoutMs?: number }) {
  const outcomes: Outcome[] = [];
  let next = 0;
  let stopped = false;
  const one = async (index: number): Promise<Outcome> => {
    const form = new FormData();
    form.append('img_file', new Blob([new Uint8Array(opts.images[index % opts.images.length]!)], { type: 'image/png' }), `${index}.png`);
    const t0 = performance.now();
    const at = Date.now();
    try {
      const res = await fetch(opts.url(), { method: 'POST', body: form, signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
      const text = await res.text();
      let body: Record<string, unknown> | null = null;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      return { index, at, status: res.status, ms: performance.now() - t0, retryAfter: res.headers.get('retry-after'), body };
    } catch (err) {
      return { index, at, status: 0, ms: performance.now() - t0, retryAfter: null, body: null, error: (err as Error).message };
    }
  };
  const clients = Array.from({ length: opts.concurrency }, async () => {
    while (!stopped && (opts.total === undefined || next < opts.total)) {
      const outcome = await one(next++);
      outcomes.push(outcome);
      // No HTTP answer (connection refused, reset): a short pause, so a load whose server went away
      // records the failures without spinning the test process's CPU.
      if (outcome.status === 0) await new Promise((r) => setTimeout(r, 50));
    }
  });
  const done = Promise.all(clients).then(() => outcomes);
  const load = {
    outcomes,
    done,
    sent: () => next,
    stop: async () => {
      stopped = true;
      running.delete(load);
      return done;
    },
  };
  running.add(load);
  void done.then(() => running.delete(load));
  return load;
}

const running = new Set<{ stop(): Promise<Outcome[]> }>();

/**
 * Stops every load still running: the integration setup calls it after each test file, so a test that
 * failed or timed out before stopping its load cannot leave it hammering the next files' services.
 */
export async function stopAllLoads(): Promise<number> {
  const left = [...running];
  await Promise.all(left.map((l) => l.stop()));
  return left.length;
}

/** Counts of outcomes by HTTP status (0 = no answer). */
export function byStatus(outcomes: Outcome[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}
