import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MlflowClient } from '../lib/mlflow/client';
import { MlflowError } from '../lib/mlflow/http';
import { driftResultSchema, type DriftResult, type DriftSettings } from '../lib/monitoring/drift-result';
import type { DriftMetrics } from '../lib/monitoring/drift-metrics';
import { runCommand } from '../lib/process/run';

export interface MeasureDriftInput {
  modelName: string;
  version: string;
  /** End of the window (epoch ms): the workflow's time, so a retry judges the same window. */
  untilMs: number;
  settings: DriftSettings;
}

export interface DriftCheck {
  modelName: string;
  version: string;
  /** `no_reference`: the version's run has no evaluation/drift_reference.json (registered by hand, or older). */
  status: DriftResult['status'] | 'no_reference';
  drift: boolean;
  driftedShare: number;
  rows: number;
  /** Per feature: distance and verdict. */
  features: Record<string, { distance: number | null; drifted: boolean }>;
  /** Where the HTML report is, in the version's run (MLflow artifact URI). */
  report?: string;
}

export interface DriftDeps {
  mlflow: MlflowClient;
  python: string;
  /** trainer/monitor_drift.py */
  script: string;
  /** Root of the payload log's Parquet files (the logger's PAYLOAD_LOG_DIR). */
  payloadDir: string;
  workDir: string;
  metrics: DriftMetrics;
  signal?: AbortSignal;
}

/** Report folder of one check in the version's run: sorts by time in MLflow's artifact browser. */
export const reportDir = (untilMs: number) => `monitoring/drift-${new Date(untilMs).toISOString().replace(/[:.]/g, '-')}`;

/**
 * One drift check of a model version: its training-time reference (the run's
 * evaluation/drift_reference.json) against the last `windowMinutes` of its
 * payload log, judged by trainer/monitor_drift.py (scipy tests, see
 * trainer/lifecycle_trainer/drift.py). The report (HTML with plots, and JSON)
 * goes to the version's run under monitoring/, the scores to its metric
 * history and to Prometheus. Safe to retry: the window is fixed by `untilMs`.
 */
export async function measureDrift(input: MeasureDriftInput, deps: DriftDeps): Promise<DriftCheck> {
  const { modelName, version, untilMs, settings } = input;
  const mv = await deps.mlflow.getModelVersion(modelName, version);
  const base = { modelName, version, drift: false, driftedShare: 0, rows: 0, features: {} };
  if (!mv.run_id) return { ...base, status: 'no_reference' };
  const run = await deps.mlflow.getRun(mv.run_id);
  let reference: Buffer;
  try {
    reference = await deps.mlflow.downloadArtifact(`${run.info.artifact_uri}/evaluation/drift_reference.json`);
  } catch (err) {
    if (err instanceof MlflowError && err.status === 404) return { ...base, status: 'no_reference' };
    throw err;
  }
  const dir = await mkdtemp(join(deps.workDir, `drift-${modelName}-`));
  try {
    await writeFile(join(dir, 'reference.json'), reference);
    const out = join(dir, 'out');
    const sinceMs = untilMs - settings.windowMinutes * 60_000;
    const args = [deps.script, '--payloads', deps.payloadDir, '--model', modelName, '--version', version, '--since-ms', String(sinceMs), '--until-ms', String(untilMs)];
    args.push('--reference', join(dir, 'reference.json'), '--out', out, '--threshold', String(settings.threshold), '--alpha', String(settings.alpha));
    args.push('--drift-share', String(settings.driftShare), '--min-rows', String(settings.minRows), '--max-rows', String(settings.maxRows));
    await runCommand(deps.python, args, { signal: deps.signal, env: { ...process.env, PYTHONUNBUFFERED: '1' } });
    const result = driftResultSchema.parse(JSON.parse(await readFile(join(out, 'drift.json'), 'utf8')));
    const report = `${run.info.artifact_uri}/${reportDir(untilMs)}`;
    await deps.mlflow.uploadArtifact(`${report}/drift.html`, await readFile(join(out, 'drift.html')), 'text/html');
    await deps.mlflow.uploadArtifact(`${report}/drift.json`, await readFile(join(out, 'drift.json')), 'application/json');
    // The version's metric history keeps every check (MLflow charts them by step = window end in seconds).
    const step = Math.floor(untilMs / 1000);
    const metric = (key: string, value: number) => ({ key, value, timestamp: untilMs, step });
    await deps.mlflow.logBatch(mv.run_id, {
      metrics: [
        metric('drift_detected', result.drift ? 1 : 0),
        metric('drift_window_rows', result.rows),
        ...Object.entries(result.features).flatMap(([name, f]) => (f.distance === null ? [] : [metric(`drift_score.${name}`, f.distance)])),
      ],
    });
    deps.metrics.record(result, untilMs);
    return {
      ...base,
      status: result.status,
      drift: result.drift,
      driftedShare: result.drifted_share,
      rows: result.rows,
      features: Object.fromEntries(Object.entries(result.features).map(([name, f]) => [name, { distance: f.distance, drifted: f.drifted }])),
      report: `${report}/drift.html`,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
