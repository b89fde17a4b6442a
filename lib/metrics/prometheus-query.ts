/**
 * A minimal client for Prometheus's instant-query API (`/api/v1/query`): the
 * live analysis of a progressive rollout reads per-version metrics with it.
 * Prometheus has no maintained JS client for its HTTP API; this is the one
 * call needed, with a timeout and the server's error named.
 */
import { z } from 'zod';

const vectorSampleSchema = z.object({ metric: z.record(z.string(), z.string()), value: z.tuple([z.number(), z.string()]) });
const queryResponseSchema = z.object({
  status: z.enum(['success', 'error']),
  data: z.object({ resultType: z.string(), result: z.array(z.unknown()) }).optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
});
export type VectorSample = z.infer<typeof vectorSampleSchema>;

export class PrometheusQueryError extends Error {
  constructor(
    message: string,
    /** A 4xx (bad query): retrying cannot fix it. */
    readonly permanent: boolean,
  ) {
    super(message);
  }
}

export interface PrometheusClientOptions {
  url: string;
  timeoutMs?: number;
  fetchImpl?: typeof fetch;
}

export class PrometheusClient {
  private readonly fetchImpl: typeof fetch;
  constructor(private readonly opts: PrometheusClientOptions) {
    this.fetchImpl = opts.fetchImpl ?? fetch;
  }

  /** An instant vector query evaluated at `time` (epoch seconds): each sample's labels and value (NaN kept as NaN). */
  async vector(query: string, time: number): Promise<{ labels: Record<string, string>; value: number }[]> {
    const url = new URL('/api/v1/query', this.opts.url);
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ query, time: time.toFixed(3) }),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new PrometheusQueryError(`Prometheus at ${this.opts.url} unreachable: ${(err as Error).message}`, false);
    }
    const text = await res.text();
    let body: z.infer<typeof queryResponseSchema>;
    try {
      body = queryResponseSchema.parse(JSON.parse(text));
    } catch {
      throw new PrometheusQueryError(`Prometheus answered ${res.status} with no query result: ${text.slice(0, 200)}`, res.status >= 400 && res.status < 500);
    }
    if (body.status !== 'success' || !body.data) throw new PrometheusQueryError(`Prometheus query failed (${body.errorType ?? res.status}): ${body.error ?? 'no data'} in ${query}`, res.status >= 400 && res.status < 500);
    if (body.data.resultType !== 'vector') throw new PrometheusQueryError(`expected an instant vector from ${query}, got ${body.data.resultType}`, true);
    return body.data.result.map((r) => {
      const s = vectorSampleSchema.parse(r);
      return { labels: s.metric, value: Number(s.value[1]) };
    });
  }
}
