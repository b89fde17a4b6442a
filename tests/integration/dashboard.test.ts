/**
 * The Grafana dashboard and the alert rules against a REAL Prometheus that scrapes REAL metrics
 * endpoints of our own code (the registries of lib/metrics and lib/temporal/worker-metrics.ts,
 * served by our metrics servers), with the job names of infra/prometheus/prometheus.yml.
 * Every panel query must be valid PromQL, and return data unless it reads Temporal SDK metrics
 * (temporal_*), which only a worker connected to a Temporal server exports.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { createApiMetrics } from '../../lib/metrics/api-metrics';
import { createInferenceMetrics } from '../../lib/metrics/inference-metrics';
import { startMetricsServer } from '../../lib/metrics/metrics-server';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import { createPayloadLogMetrics } from '../../lib/payload-log/api-metrics';
import { createPayloadWriteMetrics } from '../../lib/payload-log/payload-writer';
import { createLoggerMetrics } from '../../lib/payload-log/logger-metrics';
import { createWorkerMetrics } from '../../lib/temporal/worker-metrics';
import { createDriftMetrics } from '../../lib/monitoring/drift-metrics';
import { findPrometheusBinary, startPrometheus, type RunningPrometheus } from './support/prometheus';
import { ROOT } from './support/env';

const DASHBOARD = resolve(ROOT, 'infra/grafana/dashboards/lifecycle.json');
const DATASOURCES = resolve(ROOT, 'infra/grafana/provisioning/datasources/prometheus.yml');
const PROMETHEUS_LOCAL = resolve(ROOT, 'infra/prometheus/prometheus.yml');
const PROMETHEUS_COMPOSE = resolve(ROOT, 'infra/prometheus/prometheus.compose.yml');
const ALERTS = resolve(ROOT, 'infra/prometheus/alerts.yml');
const ALERT_TESTS = resolve(ROOT, 'infra/prometheus/alerts.test.yml');

/** Jobs the dashboard and alert rules assume; temporal-sdk has no in-process target here. */
const JOBS_WITH_TARGETS = ['api', 'inference-worker', 'pipeline-worker', 'training-worker', 'payload-logger'];
/** The local stack's supervisord exports restart counters; containers have no supervisord. */
const LOCAL_ONLY_JOBS = ['supervisor'];
const SCRAPED_JOBS = [...JOBS_WITH_TARGETS, 'temporal-sdk', ...LOCAL_ONLY_JOBS];
/** Referenced by panels/rules with a fallback (`or vector(...)`) until the API exports it. */
const METRICS_NOT_YET_EXPORTED = new Set(['lifecycle_inference_queue_limit']);

/** Grafana's built-in variables, replaced as Grafana would with a 1 s scrape interval. */
const GRAFANA_VARIABLES: Record<string, string> = {
  /** The dashboard's model variable set to All. */
  model: '.*',
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '1h',
  __range_s: '3600',
};

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; panels: Panel[] };
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = allPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel, target })));
const alertRules = (parse(readFileSync(ALERTS, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] }).groups.flatMap((g) => g.rules);

function expand(expr: string): string {
  return expr.replace(/\$(?:\{(\w+)\}|(\w+))/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    const value = GRAFANA_VARIABLES[name];
    if (value === undefined) throw new Error(`Unknown Grafana variable ${whole} in: ${expr}`);
    return value;
  });
}

/** Metric names an expression reads: identifiers outside label matchers, grouping clauses and strings that are not functions or keywords. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, '[]');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without']);
  return [...stripped.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1]!).filter((name) => !keywords.has(name));
}

const isSdkQuery = (expr: string) => metricNames(expr).some((name) => name.startsWith('temporal_'));

describe('Grafana dashboard and alert rules on a real Prometheus', () => {
  let prometheus: RunningPrometheus | undefined;
  const closers: (() => Promise<void>)[] = [];
  let exercise: () => void = () => undefined;

  beforeAll(async () => {
    // The registries of each process kind, exactly as the processes create them.
    const apiRegistry = createMetricsRegistry();
    const api = createApiMetrics(apiRegistry, () => Promise.resolve(new Map([['fashion-mnist-classifier', 7], ['shoes', 1]])), 1000);
    const inference = [0, 1].map(() => {
      const registry = createMetricsRegistry();
      return { registry, metrics: createInferenceMetrics(registry) };
    });
    // The payload log's metrics: the API's (live accuracy read from the shared windows at scrape time), the
    // inference worker's (it writes the sampled entries) and the logger's.
    const payloadWrites = createPayloadWriteMetrics(inference[0]!.registry);
    const payloadLog = createPayloadLogMetrics(apiRegistry, () => Promise.resolve(new Map([['fashion-mnist-classifier', [{ version: '3', n: 120, correct: 100 }, { version: '4', n: 80, correct: 70 }]]])));
    const loggerRegistry = createMetricsRegistry();
    const backlog = [{ stream: { key: 'plog', model: 'fashion-mnist-classifier', table: 'payloads' as const }, length: 12 }];
    const logger = createLoggerMetrics(loggerRegistry, () => Promise.resolve(backlog));
    const pipeline = createWorkerMetrics('pipeline-worker');
    const training = createWorkerMetrics('training-worker');
    const drift = createDriftMetrics(training.registry);

    exercise = () => {
      for (const [status, seconds] of [['200', 0.03], ['200', 0.08], ['400', 0.002], ['503', 0.001], ['504', 10]] as const) {
        api.httpDuration.observe({ method: 'POST', route: '/predict', status_code: status }, seconds);
        api.httpDuration.observe({ method: 'POST', route: '/models/:name/predict/batch', status_code: status }, seconds);
      }
      api.httpDuration.observe({ method: 'GET', route: '/readyz', status_code: '200' }, 0.001);
      for (const model of ['fashion-mnist-classifier', 'shoes']) {
        api.predictions.inc({ model, model_version: '3', status: 'ok' }, 2);
        api.predictions.inc({ model, model_version: '3', status: 'unavailable' });
        api.predictionDuration.observe({ model, status: 'ok' }, 0.004);
        api.predictionDuration.observe({ model, status: 'unavailable' }, 0.001);
      }
      inference.forEach(({ metrics }, i) => {
        const model = i === 0 ? 'fashion-mnist-classifier' : 'shoes';
        metrics.batchSize.observe({ model }, 1 + i * 7);
        metrics.inferenceDuration.observe({ model }, 0.004);
        metrics.queueWait.observe({ model }, 0.012);
        metrics.processed.inc({ model }, 8);
        metrics.expired.inc({ model });
        metrics.reclaimed.inc({ model });
        metrics.failed.inc({ model, reason: 'inference_failed' });
        metrics.modelInfo.set({ name: model, version: '3' }, 1);
        metrics.modelLoads.inc({ model, outcome: 'ok' });
        // A progressive rollout of v4 beside the champion v3: per-version runs, agreement, the plan gauges.
        for (const version of ['3', '4']) {
          metrics.versionRequests.inc({ model, version, outcome: 'ok' }, 8);
          metrics.versionRequests.inc({ model, version, outcome: 'error' });
          metrics.versionInference.observe({ model, version }, 0.004);
          metrics.versionPredictions.inc({ model, version, label: 'Bag' }, 5);
          metrics.versionPredictions.inc({ model, version, label: 'Coat' }, 3);
        }
        metrics.agreement.inc({ model, version: '4', agree: 'true' }, 7);
        metrics.agreement.inc({ model, version: '4', agree: 'false' });
        metrics.trafficFallbacks.inc({ model });
        metrics.trafficShare.set({ model, version: '4', mode: 'canary' }, 0.2);
        metrics.trafficPlanSetAt.set({ model, version: '4', mode: 'canary' }, Date.now() / 1000 - 60);
        metrics.trafficPlanMaxDuration.set({ model, version: '4', mode: 'canary' }, 1800);
      });
      for (const version of ['3', '4']) {
        payloadLog.feedback.inc({ model: 'fashion-mnist-classifier', version, outcome: 'correct' }, 3);
        payloadLog.feedback.inc({ model: 'fashion-mnist-classifier', version, outcome: 'wrong' });
      }
      payloadWrites.logged.inc({ model: 'fashion-mnist-classifier' }, 5);
      payloadWrites.dropped.inc({ model: 'fashion-mnist-classifier' });
      logger.written.inc({ table: 'payloads', model: 'fashion-mnist-classifier' }, 5);
      logger.written.inc({ table: 'feedback', model: 'fashion-mnist-classifier' }, 2);
      for (const activity of ['pullDataset', 'registerModel']) {
        pipeline.activityDuration.observe({ activity, outcome: 'success' }, 2);
        pipeline.activityTotal.inc({ activity, outcome: 'success' });
      }
      training.activityDuration.observe({ activity: 'trainModel', outcome: 'success' }, 95);
      training.activityTotal.inc({ activity: 'trainModel', outcome: 'success' });
      training.activityTotal.inc({ activity: 'trainModel', outcome: 'failure' });
      // The drift check runs on the training worker's monitoring queue and exports on its /metrics.
      drift.record(
        {
          model: 'fashion-mnist-classifier',
          version: '3',
          window: { since: '', until: '' },
          rows: 500,
          reference_rows: 2000,
          status: 'ok',
          drift: true,
          drifted_share: 0.6,
          settings: { threshold: 0.1, alpha: 0.05, drift_share: 0.5, min_rows: 200 },
          features: {
            brightness: { kind: 'numerical', distance: 0.9, distance_name: 'w', test: 'ks', p_value: 0, drifted: true },
            predicted: { kind: 'categorical', distance: 0.05, distance_name: 'js', test: 'chi2', p_value: 0.3, drifted: false },
          },
        },
        Date.now(),
      );
    };
    exercise();

    // Our own metrics endpoints, one per process.
    const targets: Record<string, string[]> = {};
    const add = (job: string, port: number, close: () => Promise<void>) => {
      (targets[job] ??= []).push(`127.0.0.1:${port}`);
      closers.push(close);
    };
    const health = () => ({ ok: true });
    const apiServer = await startMetricsServer({ registry: apiRegistry, port: 0, host: '127.0.0.1', health });
    add('api', apiServer.port, apiServer.close);
    for (const { registry } of inference) {
      const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', health });
      add('inference-worker', server.port, server.close);
    }
    const loggerServer = await startMetricsServer({ registry: loggerRegistry, port: 0, host: '127.0.0.1', health });
    add('payload-logger', loggerServer.port, loggerServer.close);
    for (const [job, worker] of [['pipeline-worker', pipeline], ['training-worker', training]] as const) {
      const server = await startMetricsServer({ registry: worker.registry, port: 0, host: '127.0.0.1', health });
      add(job, server.port, server.close);
    }

    // The local stack's config, pointed at the endpoints above and sped up.
    const config = parse(readFileSync(PROMETHEUS_LOCAL, 'utf8')) as { scrape_configs: { job_name: string; static_configs?: unknown; file_sd_configs?: unknown }[] } & Record<string, unknown>;
    expect(config.scrape_configs.map((c) => c.job_name).sort()).toEqual([...SCRAPED_JOBS].sort());
    prometheus = await startPrometheus({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [ALERTS],
      scrape_configs: config.scrape_configs
        .filter((c) => targets[c.job_name])
        // The stack writes its targets to files (file_sd); here the same jobs point at the endpoints above.
        .map(({ file_sd_configs: _fromFiles, ...c }) => ({ ...c, static_configs: [{ targets: targets[c.job_name] }] })),
    });

    // Three scrapes of every target, with fresh observations in between, so rate() has data.
    const ticker = setInterval(() => exercise(), 400);
    try {
      const expectedTargets = Object.values(targets).flat().length;
      await prometheus.waitFor(`${expectedTargets} targets scraped 3 times`, async () => {
        const res = await prometheus!.query('count_over_time(up[1m]) >= 3 and on(job, instance) up == 1');
        return Array.isArray(res.data?.result) && res.data.result.length === expectedTargets;
      });
    } finally {
      clearInterval(ticker);
    }
  });

  afterAll(async () => {
    await prometheus?.stop();
    await Promise.all(closers.map((close) => close()));
  });

  it('references only the provisioned Prometheus datasource', () => {
    const provisioned = parse(readFileSync(DATASOURCES, 'utf8')) as { datasources: { uid: string; type: string }[] };
    expect(provisioned.datasources).toHaveLength(1);
    const { uid, type } = provisioned.datasources[0]!;
    const refs: unknown[] = [];
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === 'datasource') refs.push(value);
          walk(value);
        }
      }
    };
    walk(dashboard);
    expect(refs.length).toBeGreaterThan(0);
    for (const ref of refs) expect(ref).toEqual({ type, uid });
    // Every panel that queries has the datasource on the panel and on each target.
    for (const { panel, target } of queries) {
      expect(panel.datasource).toEqual({ type, uid });
      expect(target.datasource).toEqual({ type, uid });
    }
  });

  it('has unique panel ids and at least one query per data panel', () => {
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of allPanels.filter((p) => p.type !== 'row')) expect(panel.targets?.length ?? 0).toBeGreaterThan(0);
  });

  it.each(queries.map(({ panel, target }) => [panel.title, target.refId, target.expr] as const))(
    'panel "%s" query %s is valid PromQL and returns data from our metrics',
    async (_title, _refId, expr) => {
      const res = await prometheus!.query(expand(expr));
      expect({ status: res.status, error: res.error }).toEqual({ status: 'success', error: undefined });
      if (!isSdkQuery(expr)) {
        expect(Array.isArray(res.data?.result) ? res.data.result.length : 0).toBeGreaterThan(0);
      }
    },
  );

  it('exports every lifecycle_* metric that the dashboard and the alert rules read', async () => {
    const res = await prometheus!.query('count by (__name__) ({__name__=~"lifecycle_.+"})');
    const exported = new Set((res.data?.result as { metric: Record<string, string> }[]).map((r) => r.metric.__name__));
    const referenced = new Set([...queries.map((q) => q.target.expr), ...alertRules.map((r) => r.expr)].flatMap(metricNames).filter((n) => n.startsWith('lifecycle_')));
    const missing = [...referenced].filter((name) => !exported.has(name) && !METRICS_NOT_YET_EXPORTED.has(name));
    expect(missing).toEqual([]);
  });

  it.each(alertRules.map((rule) => [rule.alert ?? rule.record ?? '?', rule.expr] as const))('alert rule %s is valid PromQL', async (_name, expr) => {
    const res = await prometheus!.query(expr);
    expect({ status: res.status, error: res.error }).toEqual({ status: 'success', error: undefined });
  });

  it('loads every alert rule into Prometheus and evaluates it without error', async () => {
    let groups: NonNullable<Awaited<ReturnType<RunningPrometheus['rules']>>['data']>['groups'] = [];
    await prometheus!.waitFor('every rule evaluated once', async () => {
      groups = (await prometheus!.rules()).data?.groups ?? [];
      const rules = groups.flatMap((g) => g.rules);
      return rules.length === alertRules.length && rules.every((r) => !r.lastEvaluation.startsWith('0001-'));
    });
    const unhealthy = groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`);
    expect(unhealthy).toEqual([]);
  });

  it('passes the alert rule unit tests (promtool test rules)', async () => {
    const run = promisify(execFile)(findPrometheusBinary('promtool'), ['test', 'rules', ALERT_TESTS]);
    // On failure promtool prints the expected and actual alerts on stdout: show them.
    const output = await run.then(
      ({ stdout }) => stdout,
      (err: { stdout?: string; stderr?: string; message: string }) => `FAILED\n${err.stdout ?? ''}${err.stderr ?? err.message}`,
    );
    expect(output).toContain('SUCCESS');
  });

  it('keeps the compose Prometheus config on the same jobs as the local one', () => {
    const compose = parse(readFileSync(PROMETHEUS_COMPOSE, 'utf8')) as { rule_files: string[]; scrape_configs: { job_name: string }[] };
    const jobs = compose.scrape_configs.map((c) => c.job_name);
    expect(jobs).toEqual(expect.arrayContaining(SCRAPED_JOBS.filter((j) => !LOCAL_ONLY_JOBS.includes(j))));
    expect(compose.rule_files).toEqual(['alerts.yml']);
  });
});
