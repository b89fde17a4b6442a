/**
 * Live traffic shifts away from the training data. Under load of held-out Fashion-MNIST images
 * (like the champion's test split) the drift check, run as the monitor Schedule runs it (the
 * monitorModel workflow on the real pipeline and training workers), must raise no flag; after the
 * traffic turns to the same kind of images inverted, it must. Each check judges the newest
 * `rows` logged requests (the stack logs PAYLOAD_LOG_SAMPLE of them), its report lands in the
 * champion's MLflow run, and the training worker's /metrics carries the flag Prometheus scrapes.
 * No request may fail meanwhile.
 */
import sharp from 'sharp';
import type { DriftCheck } from '../../activities/drift';
import type { monitorModel } from '../../workflows/monitor-model';
import { scrapeValue } from '../../tests/support/payload-log';
import { championRef } from '../consistency';
import { expectCleanLoad, waitFor, type Drill } from '../drill';
import { Load } from '../load';
import { stamp } from './common';

const PIPELINE_QUEUE = process.env.PIPELINE_TASK_QUEUE ?? 'ml-pipeline';

export const driftShift: Drill = {
  name: 'drift-shift',
  fault: 'live traffic turns from images like the test split to inverted ones; the drift check must flag the shifted window and only it',
  ci: false,
  async run(ctx) {
    const { stack } = ctx;
    const champion = await championRef(stack);
    const rows = ctx.options.ci ? 250 : 400;
    const metricsOf = (kind: string) => stack.plan.find((p) => p.kind === kind)!.health.replace(/\/healthz$/, '/metrics');
    const scrape = async (kind: string) => (await fetch(metricsOf(kind))).text();
    const logged = async () => scrapeValue(await scrape('payload-logger'), 'lifecycle_payload_logger_written_total', { table: 'payloads', model: stack.modelName });

    /** Serves `images` until `rows` more requests are in Parquet, then runs one drift check over the newest `rows`. */
    const phase = async (images: Buffer[], what: string): Promise<DriftCheck | null> => {
      const target = (await logged()) + rows;
      const load = Load.start({ targets: stack.apiUrls, images, connections: ctx.options.connections, rate: ctx.options.rate, timeoutMs: 20_000 });
      ctx.defer(`stop the ${what} load`, () => load.stop());
      const waited = await waitFor(async () => (await logged()) >= target, 180_000, 500);
      const summary = await load.stop();
      expectCleanLoad(ctx, summary);
      if (!ctx.expect(waited !== null, `the payload logger did not write ${rows} ${what} requests within 180 s`)) return null;
      ctx.log(`${what}: ${summary.ok} requests answered, ${rows} of them logged; checking drift`);
      const check = (await (await stack.temporal()).workflow.execute<typeof monitorModel>('monitorModel', {
        taskQueue: PIPELINE_QUEUE,
        workflowId: `drill-drift-${what}-${stamp()}`,
        args: [{ modelName: stack.modelName, drift: { maxRows: rows, minRows: rows } }],
      })) as DriftCheck;
      const features = Object.entries(check.features).map(([k, f]) => `${k} ${f.distance?.toFixed(3)}${f.drifted ? '*' : ''}`);
      ctx.note(`${what}: ${check.status}, drift ${check.drift}, ${(100 * check.driftedShare).toFixed(0)}% of features (${features.join(', ')}; * drifted)`);
      return check;
    };

    const plain = await phase(ctx.images, 'plain');
    if (!plain) return { load: null, workflow: '-', recoverMs: null, recoveredWhen: 'never: no drift check ran' };
    ctx.expect(plain.version === champion.version, `the check judged v${plain.version}, not the champion v${champion.version}`);
    ctx.expect(plain.status === 'ok' && !plain.drift, `traffic like the test split was judged ${plain.status}, drift ${plain.drift}`);

    const inverted = await Promise.all(ctx.images.map((png) => sharp(png).negate({ alpha: false }).png().toBuffer()));
    const startedAt = Date.now();
    const shifted = await phase(inverted, 'inverted');
    if (!shifted) return { load: null, workflow: '-', recoverMs: null, recoveredWhen: 'never: the second check did not run' };
    ctx.expect(shifted.status === 'ok' && shifted.drift, `inverted traffic was judged ${shifted.status}, drift ${shifted.drift}`);
    const flag = scrapeValue(await scrape('training-worker'), 'lifecycle_drift_detected', { model: stack.modelName, version: champion.version });
    ctx.expect(flag === 1, `lifecycle_drift_detected of v${champion.version} on the training worker's /metrics is ${flag}, not 1`);
    const html = shifted.report ? (await stack.mlflow.downloadArtifact(shifted.report)).toString() : '';
    ctx.expect(html.includes('DRIFT'), `the report of the shifted window is not in the champion's run (${shifted.report ?? 'no report'})`);
    return {
      load: null,
      workflow: `monitorModel: plain ${plain.drift ? 'DRIFT' : 'no drift'}, inverted ${shifted.drift ? 'DRIFT' : 'no drift'}`,
      recoverMs: Date.now() - startedAt,
      recoveredWhen: 'the drift check of the shifted traffic flagged it (time from the shift to the verdict)',
    };
  },
};
