import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measureDrift, type DriftCheck } from '../../activities/drift';
import { defaultSourceDir, encodePng, LABELS, loadClass } from '../../lib/dataset/fashion-mnist';
import { MlflowClient } from '../../lib/mlflow/client';
import { createDriftMetrics } from '../../lib/monitoring/drift-metrics';
import { driftResultSchema, driftSettingsSchema } from '../../lib/monitoring/drift-result';
import { createMetricsRegistry } from '../../lib/metrics/registry';
import type { RunningPayloadLogger } from '../../workers/payload-logger';
import { scrapeValue, startTestLogger } from '../support/payload-log';
import { ServingStack } from '../support/serving-stack';
import { makeTestModel, refFor, type TestModel } from '../support/test-model';
import { registerTestModel } from './support/registry';
import { MLFLOW_TRACKING_URI, ROOT, VENV_BIN, uniqueId } from './support/env';

jest.setTimeout(180_000);

const PER_CLASS = 30; // 300 live requests per phase, above the check's 200-row minimum

/**
 * Held-out Fashion-MNIST images `from`..`from+perClass` of each class (28x28 uint8), classes interleaved.
 * The reference and the live traffic use different images: the same distribution, not the same rows.
 */
function heldOut(from: number, perClass: number): Buffer[] {
  const source = defaultSourceDir();
  const byClass = LABELS.map((_, c) => loadClass(source, c).test.slice(from, from + perClass).map((i) => i.pixels));
  return Array.from({ length: perClass }, (_, i) => byClass.map((cls) => cls[i]!)).flat();
}

/**
 * Drift monitoring against the real things: a model version registered in MLflow with a drift
 * reference on its run, served by the real API and inference worker over real Redis, every
 * request logged by the real payload logger to Parquet, and the check run by the monitoring
 * activity (trainer/monitor_drift.py in the project venv), its report and metrics back in MLflow.
 */
describe('drift monitoring: the served version\'s payload log against its training-time reference (real MLflow, serving, logger, Python)', () => {
  const mlflow = new MlflowClient({ trackingUri: MLFLOW_TRACKING_URI });
  const modelName = uniqueId('drift-classifier');
  let dir: string;
  let model: TestModel;
  let version: string;
  let runId: string;
  let stack: ServingStack;
  let logger: RunningPayloadLogger;
  const registry = createMetricsRegistry({ defaultMetrics: false });
  const metrics = createDriftMetrics(registry);

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drift-monitor-'));
    model = makeTestModel(dir, { seed: 3 });
    const registered = await registerTestModel(mlflow, modelName, model);
    version = registered.version;
    runId = (await mlflow.getModelVersion(modelName, version)).run_id!;
    // The reference the trainer would have recorded: 100 held-out images per class and the model's answers on them.
    writeFileSync(join(dir, 'reference.bin'), Buffer.concat(heldOut(0, 100)));
    execFileSync(join(VENV_BIN, 'python'), [join(ROOT, 'tests/support/make_drift_reference.py'), model.path, join(dir, 'reference.bin'), join(dir, 'drift_reference.json')]);
    const run = await mlflow.getRun(runId);
    await mlflow.uploadArtifact(`${run.info.artifact_uri}/evaluation/drift_reference.json`, await readFile(join(dir, 'drift_reference.json')), 'application/json');

    stack = new ServingStack();
    await stack.setActive(refFor(model, version, modelName), model.bytes);
    await stack.startApi({ MODEL_NAME: modelName, PAYLOAD_LOG_SAMPLE: '1' });
    await (await stack.startWorker({ MODEL_NAME: modelName, SERVED_MODELS: modelName })).ready();
    logger = await startTestLogger(stack.redisUrl, stack.prefix, join(dir, 'payloads'));
  });
  afterAll(async () => {
    await logger?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Serves every image through POST /predict, then waits until the logger has written them all. */
  async function serve(images: Buffer[]): Promise<void> {
    const written = async () => scrapeValue(await (await fetch(`http://127.0.0.1:${logger.metricsPort}/metrics`)).text(), 'lifecycle_payload_logger_written_total', { table: 'payloads' });
    const target = (await written()) + images.length;
    for (const pixels of images) expect((await stack.predict(await encodePng(pixels))).status).toBe(200);
    await stack.waitFor(async () => (await written()) >= target, 30_000, `the logger to write ${images.length} payloads`);
  }

  /** The newest `rows` logged requests of the version against its reference. */
  const check = (rows: number): Promise<DriftCheck> =>
    measureDrift(
      { modelName, version, untilMs: Date.now() + 1, settings: driftSettingsSchema.parse({ maxRows: rows }) },
      { mlflow, python: join(VENV_BIN, 'python'), script: join(ROOT, 'trainer/monitor_drift.py'), payloadDir: join(dir, 'payloads'), workDir: dir, metrics },
    );

  const series = async (name: string, labels: Record<string, string>) => scrapeValue(await registry.metrics(), name, { model: modelName, version, ...labels });

  it('raises no flag on traffic like the test split, and raises it on inverted images; each report is in the run', async () => {
    await serve(heldOut(100, PER_CLASS));
    const plain = await check(10 * PER_CLASS);
    expect(plain).toMatchObject({ status: 'ok', drift: false, rows: 10 * PER_CLASS });
    expect(Object.values(plain.features).filter((f) => f.drifted)).toEqual([]);
    expect(await series('lifecycle_drift_detected', {})).toBe(0);

    // The same kind of held-out images, inverted (light garments on a dark ground become dark on light).
    await serve(heldOut(100 + PER_CLASS, PER_CLASS).map((p) => Buffer.from(p.map((v) => 255 - v))));
    const shifted = await check(10 * PER_CLASS);
    expect(shifted).toMatchObject({ status: 'ok', drift: true, rows: 10 * PER_CLASS });
    // Inversion moves the mean and the share of bright pixels, not the spread.
    expect(shifted.features.brightness).toMatchObject({ drifted: true });
    expect(shifted.features.ink).toMatchObject({ drifted: true });
    expect(shifted.driftedShare).toBeGreaterThanOrEqual(0.5);
    expect(await series('lifecycle_drift_detected', {})).toBe(1);
    expect(await series('lifecycle_drift_score', { feature: 'brightness' })).toBeCloseTo(shifted.features.brightness!.distance!, 6);

    // The report of each check (HTML with plots, and JSON) is in the version's run, and the scores in its metric history.
    for (const [result, verdict] of [[plain, 'no drift'], [shifted, 'DRIFT']] as const) {
      const html = (await mlflow.downloadArtifact(result.report!)).toString();
      expect(html).toContain(`${modelName} v${version}: ${verdict}`);
      expect(html).toContain('data:image/png;base64,');
      const json = driftResultSchema.parse(JSON.parse((await mlflow.downloadArtifact(result.report!.replace(/drift\.html$/, 'drift.json'))).toString()));
      expect(json).toMatchObject({ model: modelName, version, drift: result.drift, rows: result.rows });
    }
    const run = await mlflow.getRun(runId);
    const logged = Object.fromEntries((run.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect(logged).toMatchObject({ drift_detected: 1, drift_window_rows: 10 * PER_CLASS });
    expect(logged['drift_score.brightness']).toBeCloseTo(shifted.features.brightness!.distance!, 6);
  });

  it('does not judge a window with too few requests, and says so for a version without a reference', async () => {
    const few = await measureDrift(
      { modelName, version, untilMs: Date.now() + 1, settings: driftSettingsSchema.parse({ windowMinutes: 60, minRows: 100_000 }) },
      { mlflow, python: join(VENV_BIN, 'python'), script: join(ROOT, 'trainer/monitor_drift.py'), payloadDir: join(dir, 'payloads'), workDir: dir, metrics },
    );
    expect(few).toMatchObject({ status: 'insufficient_data', drift: false, features: {} });
    expect(await series('lifecycle_drift_detected', {})).toBe(0);

    const bare = await registerTestModel(mlflow, modelName, makeTestModel(dir, { seed: 4 }));
    const none = await measureDrift(
      { modelName, version: bare.version, untilMs: Date.now(), settings: driftSettingsSchema.parse({}) },
      { mlflow, python: join(VENV_BIN, 'python'), script: join(ROOT, 'trainer/monitor_drift.py'), payloadDir: join(dir, 'payloads'), workDir: dir, metrics },
    );
    expect(none).toMatchObject({ status: 'no_reference', drift: false });
  });
});
