/**
 * The live analysis of a progressive rollout against a REAL Prometheus: the
 * test serves the per-version metrics (VERSION_METRICS, the names the
 * inference workers export) from a prom-client registry it controls,
 * Prometheus scrapes it every second, and the analysis activity's queries
 * must read back what was counted, per version, in the step's window only,
 * and decide on it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Histogram, Registry } from 'prom-client';
import { analyzeStep, liveMetrics } from '../../activities/analysis';
import { rolloutCriteriaSchema, type RolloutStep } from '../../lib/lifecycle/rollout-config';
import { PrometheusClient, PrometheusQueryError } from '../../lib/metrics/prometheus-query';
import { VERSION_METRICS as M } from '../../lib/metrics/version-metric-names';
import { startPrometheus, type RunningPrometheus } from './support/prometheus';

const MODEL = 'analysis-test-model';
const OTHER = 'another-model';
const CLASSES = ['T-shirt/top', 'Trouser', 'Bag'];
const SCRAPE_S = 1;

describe('rollout analysis against a real Prometheus', () => {
  const registry = new Registry();
  const requests = new Counter({ name: M.requests, help: 'x', labelNames: ['model', 'version', 'outcome'], registers: [registry] });
  const seconds = new Histogram({ name: M.inferenceSeconds, help: 'x', labelNames: ['model', 'version'], buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05], registers: [registry] });
  const predictions = new Counter({ name: M.predictions, help: 'x', labelNames: ['model', 'version', 'label'], registers: [registry] });
  const agreement = new Counter({ name: M.agreement, help: 'x', labelNames: ['model', 'version', 'agree'], registers: [registry] });
  // The API's feedback counter (api-metrics.ts), served from the same target for brevity.
  const feedback = new Counter({ name: M.feedback, help: 'x', labelNames: ['model', 'version', 'outcome'], registers: [registry] });
  let server: Server;
  let prometheus: RunningPrometheus;
  let client: PrometheusClient;

  /** n examples run by `version`: errors among them, one latency per example, top-1 classes in proportion. */
  function run(model: string, version: string, n: number, o: { errors?: number; latency?: number; classes?: Record<string, number> } = {}) {
    requests.inc({ model, version, outcome: 'ok' }, n - (o.errors ?? 0));
    requests.inc({ model, version, outcome: 'error' }, o.errors ?? 0);
    for (let i = 0; i < n; i += 1) seconds.observe({ model, version }, o.latency ?? 0.0015);
    const mix = o.classes ?? Object.fromEntries(CLASSES.map((c) => [c, 1 / CLASSES.length]));
    for (const [label, share] of Object.entries(mix)) predictions.inc({ model, version, label }, Math.round(n * share));
  }

  /** Every series exists (at 0) before the window starts, as on a worker that already served both versions. */
  function zero(model: string, version: string) {
    run(model, version, 0);
    seconds.zero({ model, version });
    for (const label of CLASSES) predictions.inc({ model, version, label }, 0);
    agreement.inc({ model, version, agree: 'true' }, 0);
    agreement.inc({ model, version, agree: 'false' }, 0);
  }

  /** Scrapes of the target Prometheus has stored so far. */
  const scrapeCount = async () => (await client.vector('count_over_time(up{job="inference-worker"}[1h])', Date.now() / 1000))[0]?.value ?? 0;
  /**
   * Until Prometheus has stored `n` more scrapes: counted, not timed, because on a busy machine a
   * scrape can come late and a fixed wait then leaves a series with one sample in the window.
   */
  const scrapes = async (n: number) => {
    const target = (await scrapeCount()) + n;
    const deadline = Date.now() + n * SCRAPE_S * 1000 + 30_000;
    while ((await scrapeCount()) < target) {
      if (Date.now() > deadline) throw new Error(`Prometheus stored fewer than ${n} scrapes in ${n * SCRAPE_S + 30} s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    server = createServer((_req, res) => {
      void registry.metrics().then((body) => {
        res.writeHead(200, { 'content-type': registry.contentType });
        res.end(body);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    prometheus = await startPrometheus({
      global: { scrape_interval: `${SCRAPE_S}s`, scrape_timeout: `${SCRAPE_S}s` },
      scrape_configs: [{ job_name: 'inference-worker', static_configs: [{ targets: [`127.0.0.1:${port}`] }] }],
    });
    client = new PrometheusClient({ url: prometheus.url, timeoutMs: 5000 });
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((r) => server?.close(r));
  });

  const step: RolloutStep = { mode: 'canary', share: 0.5, minDurationMs: 1000, maxDurationMs: 60_000, minSamples: 200 };
  const criteria = rolloutCriteriaSchema.parse({ minLatencySamples: 50 });

  it('reads each version of the model in the step window only, and rolls back a candidate that disagrees', async () => {
    for (const v of ['1', '2']) zero(MODEL, v);
    zero(OTHER, '2');
    run(MODEL, '2', 5000); // before the step: must not count
    await scrapes(3);
    const appliedAt = Date.now();
    await scrapes(2);
    run(MODEL, '1', 600, { errors: 3 });
    run(MODEL, '2', 400, { errors: 40, latency: 0.004, classes: { Bag: 1 } });
    agreement.inc({ model: MODEL, version: '2', agree: 'true' }, 100);
    agreement.inc({ model: MODEL, version: '2', agree: 'false' }, 300);
    run(OTHER, '2', 900, { errors: 900 }); // another model's series: must not count
    await scrapes(4);

    const m = await liveMetrics(client, { modelName: MODEL, championVersion: '1', candidateVersion: '2', appliedAt }, Date.now());
    // increase() extrapolates each series to the window's edges (less for a series that starts at 0):
    // counts and ratios are close, not exact; the decision only needs them close.
    expect(m.champion.requests).toBeGreaterThan(600 * 0.8);
    expect(m.champion.requests).toBeLessThan(600 * 1.35);
    expect(m.candidate.requests).toBeGreaterThan(400 * 0.8);
    expect(m.candidate.requests).toBeLessThan(400 * 1.35); // not the 5000 from before the step
    expect(m.candidate.errors / m.candidate.requests).toBeGreaterThan(0.08);
    expect(m.candidate.errors / m.candidate.requests).toBeLessThan(0.12);
    expect(m.champion.errors / m.champion.requests).toBeLessThan(0.01);
    expect(m.agreement.agree / m.agreement.total).toBeCloseTo(0.25, 1);
    expect(m.candidate.p99Seconds).toBeGreaterThan(0.002);
    expect(m.candidate.p99Seconds).toBeLessThanOrEqual(0.005);
    expect(m.champion.p99Seconds).toBeLessThanOrEqual(0.002);
    expect(Object.keys(m.candidate.predictions).filter((k) => m.candidate.predictions[k]! > 0)).toEqual(['Bag']);
    expect(Object.keys(m.champion.predictions).sort()).toEqual([...CLASSES].sort());

    const e = await analyzeStep({ prometheus: client }, { modelName: MODEL, championVersion: '1', candidateVersion: '2', appliedAt, elapsedMs: 5000, step, criteria });
    expect(e.decision).toBe('rollback');
    const verdicts = Object.fromEntries(e.criteria.map((c) => [c.name, c.verdict]));
    expect(verdicts).toMatchObject({ samples: 'pass', agreement: 'fail', 'error-ratio': 'fail', 'class-distance': 'fail' });
    expect(e.reason).toMatch(/agreement: \d+\/\d+ agree \(2\d\.\d%\)/);
  });

  it('holds when the window holds too few examples, and passes a candidate that behaves like the champion', async () => {
    const model = `${MODEL}-good`;
    for (const v of ['3', '4']) zero(model, v);
    await scrapes(2);
    const appliedAt = Date.now();
    await scrapes(2);
    run(model, '3', 20);
    run(model, '4', 20);
    await scrapes(3);
    const input = { modelName: model, championVersion: '3', candidateVersion: '4', appliedAt, step, criteria };
    const early = await analyzeStep({ prometheus: client }, { ...input, elapsedMs: 5000 });
    expect(early.decision).toBe('hold');
    expect(early.criteria.find((c) => c.name === 'samples')?.verdict).toBe('short');

    run(model, '3', 800);
    run(model, '4', 800);
    agreement.inc({ model, version: '4', agree: 'true' }, 790);
    agreement.inc({ model, version: '4', agree: 'false' }, 10);
    await scrapes(4);
    const later = await analyzeStep({ prometheus: client }, { ...input, elapsedMs: 15_000 });
    expect(later.criteria.map((c) => [c.name, c.verdict])).toEqual([
      ['samples', 'pass'],
      ['agreement', 'pass'],
      ['error-ratio', 'pass'],
      ['latency-p99', 'pass'],
      ['class-distance', 'pass'],
      ['live-accuracy', 'skipped'],
    ]);
    expect(later.decision).toBe('continue');
  });

  it('judges by live accuracy once both versions have enough ground-truth feedback in the window', async () => {
    const model = `${MODEL}-drifted`;
    for (const v of ['5', '6']) {
      zero(model, v);
      for (const outcome of ['correct', 'wrong']) feedback.inc({ model, version: v, outcome }, 0);
    }
    feedback.inc({ model, version: '6', outcome: 'wrong' }, 500); // before the step: must not count
    await scrapes(3);
    const appliedAt = Date.now();
    await scrapes(2);
    // Drifted traffic: the champion is mostly wrong, the retrained candidate mostly right, so they disagree.
    run(model, '5', 600);
    run(model, '6', 600, { classes: { Bag: 0.7, Trouser: 0.3 } });
    agreement.inc({ model, version: '6', agree: 'true' }, 240);
    agreement.inc({ model, version: '6', agree: 'false' }, 360);
    feedback.inc({ model, version: '5', outcome: 'correct' }, 120);
    feedback.inc({ model, version: '5', outcome: 'wrong' }, 280);
    feedback.inc({ model, version: '6', outcome: 'correct' }, 360);
    feedback.inc({ model, version: '6', outcome: 'wrong' }, 40);
    await scrapes(4);
    const e = await analyzeStep({ prometheus: client }, { modelName: model, championVersion: '5', candidateVersion: '6', appliedAt, elapsedMs: 5000, step, criteria: { ...criteria, minFeedback: 300 } });
    expect(e.metrics.feedback!.candidate.total).toBeGreaterThan(400 * 0.8);
    expect(e.metrics.feedback!.candidate.total).toBeLessThan(400 * 1.35); // not the 500 from before the step
    expect(e.metrics.feedback!.candidate.correct / e.metrics.feedback!.candidate.total).toBeCloseTo(0.9, 1);
    expect(e.metrics.feedback!.champion.correct / e.metrics.feedback!.champion.total).toBeCloseTo(0.3, 1);
    expect(Object.fromEntries(e.criteria.map((c) => [c.name, c.verdict]))).toMatchObject({ 'live-accuracy': 'pass', agreement: 'skipped', 'class-distance': 'skipped' });
    expect(e.decision).toBe('continue');
  });

  it('names an unreachable Prometheus (retryable) and a bad query (permanent)', async () => {
    const down = new PrometheusClient({ url: 'http://127.0.0.1:9', timeoutMs: 2000 });
    const unreachable = await down.vector('up', Date.now() / 1000).catch((e: unknown) => e);
    expect(unreachable).toBeInstanceOf(PrometheusQueryError);
    expect((unreachable as PrometheusQueryError).permanent).toBe(false);
    const bad = await client.vector('sum(', Date.now() / 1000).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(PrometheusQueryError);
    expect((bad as PrometheusQueryError).permanent).toBe(true);
    expect((bad as Error).message).toMatch(/bad_data/);
  });
});
