import { Context } from '@temporalio/activity';
import { decideStep } from '../lib/analysis/decide';
import type { LiveMetrics, StepEvaluation, VersionStats } from '../lib/analysis/evidence';
import type { RolloutCriteria, RolloutStep } from '../lib/lifecycle/rollout-config';
import { PermanentError } from '../lib/lifecycle/errors';
import { PrometheusClient, PrometheusQueryError } from '../lib/metrics/prometheus-query';
import { VERSION_METRICS as M } from '../lib/metrics/version-metric-names';
import { guard } from './failures';

export interface AnalyzeStepInput {
  modelName: string;
  championVersion: string;
  candidateVersion: string;
  /** Epoch ms the step's traffic reached the fleet (setTraffic's appliedAt): the window starts here. */
  appliedAt: number;
  /** Time the step has counted, as the workflow measures it (pauses excluded). */
  elapsedMs: number;
  step: RolloutStep;
  criteria: RolloutCriteria;
}

export interface AnalysisDeps {
  prometheus: PrometheusClient;
  now?: () => number;
}

/** The window's PromQL, per version of the model (both versions' series in one query each). */
export function analysisQueries(model: string, champion: string, candidate: string, windowSeconds: number) {
  const w = `[${Math.max(1, Math.round(windowSeconds))}s]`;
  const both = `model="${model}",version=~"${champion}|${candidate}"`;
  return {
    requests: `sum by (version, outcome) (increase(${M.requests}{${both}}${w}))`,
    latencyCount: `sum by (version) (increase(${M.inferenceSeconds}_count{${both}}${w}))`,
    p99: `histogram_quantile(0.99, sum by (version, le) (increase(${M.inferenceSeconds}_bucket{${both}}${w})))`,
    predictions: `sum by (version, label) (increase(${M.predictions}{${both}}${w}))`,
    agreement: `sum by (agree) (increase(${M.agreement}{model="${model}",version="${candidate}"}${w}))`,
    feedback: `sum by (version, outcome) (increase(${M.feedback}{${both}}${w}))`,
  };
}

/**
 * Reads both versions' live metrics for the window since the step's traffic
 * was applied. `increase()` counts what the counters gained inside the
 * window, so examples from earlier steps never count twice. It cannot count
 * a series' first scraped value, so the workers create every series of a
 * version at 0 when they load it (initVersionSeries): otherwise a label first
 * predicted inside the window would lose its first counts and skew the
 * predicted-class distribution.
 */
export async function liveMetrics(prometheus: PrometheusClient, input: Omit<AnalyzeStepInput, 'step' | 'criteria' | 'elapsedMs'>, nowMs: number): Promise<LiveMetrics> {
  const windowSeconds = Math.max(0, (nowMs - input.appliedAt) / 1000);
  const q = analysisQueries(input.modelName, input.championVersion, input.candidateVersion, windowSeconds);
  const at = nowMs / 1000;
  const [requests, latencyCount, p99, predictions, agreement, feedback] = await Promise.all(
    [q.requests, q.latencyCount, q.p99, q.predictions, q.agreement, q.feedback].map((query) => prometheus.vector(query, at)),
  );
  const stats = (version: string): VersionStats => {
    const mine = (rows: typeof requests) => rows!.filter((r) => r.labels.version === version);
    const quantile = mine(p99)[0]?.value;
    return {
      version,
      requests: total(requests!, { version }),
      errors: total(requests!, { version, outcome: 'error' }),
      p99Seconds: quantile !== undefined && Number.isFinite(quantile) ? quantile : null,
      latencySamples: total(latencyCount!, { version }),
      predictions: Object.fromEntries(mine(predictions).filter((r) => r.labels.label !== undefined).map((r) => [r.labels.label!, Math.round(finite(r.value))])),
    };
  };
  const agree = total(agreement!, { agree: 'true' });
  const labelled = (version: string) => {
    const correct = total(feedback!, { version, outcome: 'correct' });
    return { correct, total: correct + total(feedback!, { version, outcome: 'wrong' }) };
  };
  return {
    champion: stats(input.championVersion),
    candidate: stats(input.candidateVersion),
    agreement: { agree, total: agree + total(agreement!, { agree: 'false' }) },
    windowSeconds,
    feedback: { champion: labelled(input.championVersion), candidate: labelled(input.candidateVersion) },
  };
}

/** One analysis: the live metrics and the decision on them (lib/analysis/decide.ts). */
export async function analyzeStep(deps: AnalysisDeps, input: AnalyzeStepInput): Promise<StepEvaluation> {
  if (input.championVersion === input.candidateVersion) throw new PermanentError(`v${input.candidateVersion} is already the champion: nothing to compare`, 'ANALYSIS_SAME_VERSION');
  const metrics = await liveMetrics(deps.prometheus, input, (deps.now ?? Date.now)());
  return decideStep(metrics, input.step, input.criteria, input.elapsedMs);
}

/** A version's rolling live accuracy as the APIs export it (one shared window in Redis: every instance reports the same). */
export async function liveAccuracyNow(prometheus: PrometheusClient, model: string, version: string, nowMs: number): Promise<{ accuracy: number | null; samples: number }> {
  const sel = `{model="${model}",version="${version}"}`;
  const [acc, n] = await Promise.all([prometheus.vector(`max(lifecycle_live_accuracy${sel})`, nowMs / 1000), prometheus.vector(`max(lifecycle_live_accuracy_samples${sel})`, nowMs / 1000)]);
  return { accuracy: acc[0] ? acc[0].value : null, samples: n[0] ? n[0].value : 0 };
}

export function createAnalysisActivities(deps: AnalysisDeps) {
  return {
    /** The curation policy's second condition (monitorModel): has live accuracy dropped? */
    liveAccuracyNow: (input: { modelName: string; version: string }) => guard(() => liveAccuracyNow(deps.prometheus, input.modelName, input.version, (deps.now ?? Date.now)())),
    analyzeStep: (input: AnalyzeStepInput) => {
      Context.current().heartbeat({ phase: 'analyzing', step: input.step.mode });
      return guard(
        () => analyzeStep(deps, input),
        (err) => (err instanceof PrometheusQueryError && err.permanent ? 'PROMETHEUS_BAD_QUERY' : null),
      );
    },
  };
}

export type AnalysisActivities = ReturnType<typeof createAnalysisActivities>;

function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** The rounded sum of the rows whose labels include every one of `labels`. */
function total(rows: Array<{ labels: Record<string, string | undefined>; value: number }>, labels: Record<string, string>): number {
  const matches = rows.filter((r) => Object.entries(labels).every(([k, v]) => r.labels[k] === v));
  return Math.round(matches.reduce((s, r) => s + finite(r.value), 0));
}
