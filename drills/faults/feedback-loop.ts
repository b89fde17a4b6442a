/**
 * The production feedback loop, end to end on the live stack. Live traffic shifts to inverted
 * images and labellers post the true label of every answer: the champion's live accuracy falls,
 * the drift check flags the window, and its curation policy (enough new labels) builds a new DVC
 * dataset version from the champion's data plus the labelled payloads, which the data trigger
 * trains on; the candidate goes through the fair gate and a canary-only progressive rollout judged
 * by live accuracy (the traffic stays shifted and labelled) and must be promoted. On held-out
 * images no request or label of the drill touched, the new champion must beat the old one on
 * inverted images by at least MARGIN. The dataset tag the curation pushed is removed afterwards.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { defaultSourceDir, encodePng, LABELS, loadClass } from '../../lib/dataset/fashion-mnist';
import { modelRefOf, paramsOf } from '../../lib/mlflow/client';
import { readModelMetadata } from '../../lib/model/metadata';
import { createOrtSession, ModelRunner } from '../../lib/model/model-runner';
import { preprocessImage } from '../../lib/model/preprocess';
import { runCommand } from '../../lib/process/run';
import type { TrainAndPromoteResult } from '../../lib/lifecycle/types';
import type { curateDataset } from '../../workflows/curate-dataset';
import type { monitorModel } from '../../workflows/monitor-model';
import { championRef } from '../consistency';
import type { Drill, DrillContext } from '../drill';
import { ending } from '../workflows';
import { stamp } from './common';

const PIPELINE_QUEUE = process.env.PIPELINE_TASK_QUEUE ?? 'ml-pipeline';
/** The new champion must beat the old one on held-out inverted images by this much. */
const MARGIN = 0.2;
const STEPS = [
  { mode: 'canary' as const, share: 0.2, minDuration: '20 seconds', maxDuration: '2 minutes', minSamples: 200 },
  { mode: 'canary' as const, share: 0.5, minDuration: '20 seconds', maxDuration: '2 minutes', minSamples: 200 },
];
/** --ci (the last drill of `make test`'s subset): one canary step; the loop is the same. */
const CI_STEPS = [{ mode: 'canary' as const, share: 0.5, minDuration: '15 seconds', maxDuration: '2 minutes', minSamples: 200 }];

/**
 * The retrain's params: the champion's own recipe (its run's epochs and per-class cap) with one more epoch (at least
 * 3; 2 with --ci), so the fair gate compares like with like plus the production data. Whichever drill trained the
 * champion before this one (in the CI subset: train-kill, on full v1), the retrain is not a weaker recipe that the gate
 * rightly refuses. The cap never drops the curated samples (lifecycle_trainer/data.py).
 */
async function retrainParams(ctx: DrillContext, version: string): Promise<Record<string, number>> {
  const mv = await ctx.stack.mlflow.getModelVersion(ctx.stack.modelName, version);
  const run = await ctx.stack.mlflow.getRun(mv.run_id!);
  const params = paramsOf(run);
  const epochs = Math.max(Number(params.epochs ?? 1) + 1, ctx.options.ci ? 2 : 3);
  const cap = Number(params.max_train_per_class);
  return { epochs, seed: 7, ...(Number.isInteger(cap) && cap > 0 ? { max_train_per_class: cap } : {}) };
}

interface Labelled {
  png: Buffer;
  label: string;
}

/** Held-out Fashion-MNIST images `from`..`to` of every class, optionally inverted, as PNG uploads with their labels. */
async function heldOut(from: number, to: number, invert: boolean): Promise<Labelled[]> {
  const source = defaultSourceDir();
  const out: Labelled[] = [];
  for (let c = 0; c < LABELS.length; c++) {
    for (const img of loadClass(source, c).test.slice(from, to)) {
      out.push({ png: await encodePng(invert ? Buffer.from(img.pixels.map((v) => 255 - v)) : img.pixels), label: LABELS[c]! });
    }
  }
  return out;
}

/** Labelled traffic: each answer's true label is posted as feedback (batches of 100), as a labelling team would. */
class LabelledTraffic {
  sent = 0;
  answered = 0;
  failed = 0;
  labelled = 0;
  firstFeedbackAt: number | null = null;
  private stopped = false;
  private readonly pending: { request_id: string; label: string }[] = [];
  private readonly runs: Promise<void>[] = [];

  constructor(
    private readonly api: string,
    private readonly token: string,
    private readonly images: Labelled[],
    private readonly prefix: string,
  ) {}

  /** Sends `count` requests (or until stopped) over `connections` connections. */
  start(connections: number, count = Infinity): this {
    for (let c = 0; c < connections; c++) this.runs.push(this.loop(count));
    return this;
  }

  async done(): Promise<void> {
    await Promise.all(this.runs);
    await this.flush(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done();
  }

  private async loop(count: number): Promise<void> {
    while (!this.stopped && this.sent < count) {
      const i = this.sent++;
      const sample = this.images[i % this.images.length]!;
      const id = `${this.prefix}-${i}`;
      const form = new FormData();
      form.append('img_file', new Blob([new Uint8Array(sample.png)], { type: 'image/png' }), 'x.png');
      try {
        const res = await fetch(`${this.api}/predict`, { method: 'POST', body: form, headers: { 'x-request-id': id }, signal: AbortSignal.timeout(20_000) });
        await res.arrayBuffer();
        if (res.status !== 200) {
          this.failed += 1;
          continue;
        }
        this.answered += 1;
        this.pending.push({ request_id: id, label: sample.label });
        if (this.pending.length >= 100) await this.flush(false);
      } catch {
        this.failed += 1;
      }
    }
  }

  private async flush(all: boolean): Promise<void> {
    while (this.pending.length >= (all ? 1 : 100)) {
      const batch = this.pending.splice(0, 100);
      const res = await fetch(`${this.api}/feedback`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      });
      const body = (await res.json()) as { accepted?: number };
      this.firstFeedbackAt ??= Date.now();
      this.labelled += body.accepted ?? 0;
    }
  }
}

/** Top-1 accuracy of a registered version on `samples`, run in this process the way serving runs it. */
async function accuracy(ctx: DrillContext, version: string, samples: Labelled[]): Promise<number> {
  const ref = modelRefOf(await ctx.stack.mlflow.getModelVersion(ctx.stack.modelName, version));
  const onnx = await ctx.stack.mlflow.downloadArtifact(ref.artifactUri);
  const metadata = readModelMetadata(onnx);
  const runner = new ModelRunner(await createOrtSession(onnx, { intraOpNumThreads: 1 }), metadata);
  let correct = 0;
  for (let i = 0; i < samples.length; i += 256) {
    const batch = samples.slice(i, i + 256);
    const answers = await runner.predict(await Promise.all(batch.map((s) => preprocessImage(s.png, metadata, { maxInputPixels: 1 << 20 }))), 1);
    answers.forEach((a, j) => (correct += a[0]?.label === batch[j]!.label ? 1 : 0));
  }
  await runner.release();
  return correct / samples.length;
}

/** `lifecycle_live_accuracy` of a version on an API's /metrics (NaN when absent). */
async function liveAccuracy(api: string, model: string, version: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('lifecycle_live_accuracy{') && l.includes(`model="${model}"`) && l.includes(`version="${version}"`));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

export const feedbackLoop: Drill = {
  name: 'feedback-loop',
  fault: 'live traffic shifts to inverted images and is labelled; drift, curation from the payload log, retraining and a progressive promotion must follow on their own',
  // Last in the CI subset: it replaces the champion, which the drills before it rely on.
  ci: true,
  async run(ctx) {
    const { stack } = ctx;
    const api = stack.apiUrls[0]!;
    const old = await championRef(stack);
    const token = readFileSync(join(stack.stateDir, 'feedback-token'), 'utf8').trim();
    const requests = ctx.options.ci ? 6000 : 10_000;
    const traffic = await heldOut(0, 300, true);
    const [evalPlain, evalInverted] = await Promise.all([heldOut(600, 1000, false), heldOut(600, 1000, true)]);
    const id = stamp();
    const startedAt = Date.now();

    // 1. The shift: inverted traffic, every answer labelled. ~PAYLOAD_LOG_SAMPLE of it lands in the payload log.
    const shift = new LabelledTraffic(api, token, traffic, `loop-${id}`).start(6, requests);
    await shift.done();
    ctx.log(`shifted traffic: ${shift.answered}/${shift.sent} answered, ${shift.labelled} labelled (${shift.failed} failed)`);
    ctx.expect(shift.failed === 0, `${shift.failed} shifted request(s) or feedback post(s) failed`);
    const live = await liveAccuracy(api, stack.modelName, old.version);
    ctx.note(`live accuracy of champion v${old.version} on the labelled shifted traffic: ${(100 * live).toFixed(1)}%`);
    ctx.expect(live < 0.5, `live accuracy of v${old.version} did not fall below 50% (${live})`);
    await new Promise((r) => setTimeout(r, 3000)); // the logger's last partial batch reaches Parquet

    // 2. The drift check with the curation policy, as the monitor Schedule would run it.
    const client = await stack.temporal();
    const trainInput = {
      params: await retrainParams(ctx, old.version),
      rollout: { strategy: 'progressive' as const, steps: ctx.options.ci ? CI_STEPS : STEPS, analysisInterval: '3 seconds', criteria: { minFeedback: 100 } },
    };
    ctx.note(`retrain params (champion v${old.version}'s recipe, one more epoch): ${JSON.stringify(trainInput.params)}`);
    const check = await client.workflow.execute<typeof monitorModel>('monitorModel', {
      taskQueue: PIPELINE_QUEUE,
      workflowId: `drill-loop-monitor-${id}`,
      args: [{ modelName: stack.modelName, drift: { maxRows: 1000 }, curate: { minLabels: 300, cooldown: '1 minute', holdOutShare: 0.2, trainInput } }],
    });
    if (check.version === null) throw new Error('no champion to monitor');
    const features = Object.entries(check.features).map(([k, f]) => `${k} ${f.distance?.toFixed(2)}${f.drifted ? '*' : ''}`);
    ctx.note(`drift check of v${check.version}: ${check.status}, drift ${check.drift} (${features.join(', ')}); curation: ${JSON.stringify(check.curation)}`);
    ctx.expect(check.drift, 'the drift check did not flag the shifted window');
    let curationId = check.curation && 'started' in check.curation ? check.curation.started : null;
    if (curationId === null && check.curation && 'skipped' in check.curation && /already started/.test(check.curation.skipped)) {
      // An earlier run of this drill already curated for this champion: the policy runs once per drifted version,
      // so this run starts the same curation itself, as `lifecycle curate` does.
      ctx.note(`the policy's curation for v${check.version} ran in an earlier drill (${check.curation.skipped}); curating directly`);
      curationId = `drill-loop-curate-${id}`;
      await client.workflow.start<typeof curateDataset>('curateDataset', {
        taskQueue: PIPELINE_QUEUE,
        workflowId: curationId,
        args: [{ modelName: stack.modelName, minLabels: 300, holdOutShare: 0.2, force: true, trainInput, pipelineTaskQueue: PIPELINE_QUEUE }],
      });
    }
    if (!ctx.expect(curationId !== null, `the policy started no curation: ${JSON.stringify(check.curation)}`)) {
      return { load: null, workflow: 'no curation', recoverMs: null, recoveredWhen: 'never' };
    }

    // 3. The shift goes on while the curation, the training and the canary steps run: every answer labelled.
    const during = new LabelledTraffic(api, token, traffic, `loop-${id}-during`).start(4);
    ctx.defer('stop the labelled traffic', () => during.stop());
    let curated: Awaited<ReturnType<typeof curateDataset>> | null = null;
    try {
      curated = (await client.workflow.getHandle(curationId!).result()) as Awaited<ReturnType<typeof curateDataset>>;
    } catch (err) {
      ctx.expect(false, `the curation failed: ${err instanceof WorkflowFailedError ? String(err.cause?.message) : (err as Error).message}`);
      return { load: null, workflow: 'curation failed', recoverMs: null, recoveredWhen: 'never' };
    }
    if (curated.status !== 'curated') {
      ctx.expect(false, `the curation built nothing: ${curated.reason}`);
      return { load: null, workflow: `curation ${curated.status}`, recoverMs: null, recoveredWhen: 'never' };
    }
    const { dataset } = curated;
    ctx.defer(`remove the dataset tag ${dataset.rev}`, () => runCommand('git', ['tag', '-d', dataset.rev], { cwd: dataset.repo }));
    ctx.note(`curated ${dataset.path}@${dataset.rev}: ${curated.added.train} labelled samples in train, ${curated.added.test} held out in test`);
    const trainId = curated.training?.started[0]?.workflowId;
    if (!ctx.expect(!!trainId, `the data trigger started no training: ${JSON.stringify(curated.training)}`)) {
      return { load: null, workflow: 'no training', recoverMs: null, recoveredWhen: 'never' };
    }
    const end = await ending<TrainAndPromoteResult>(client.workflow.getHandle(trainId!), 20 * 60_000);
    const promotedAt = Date.now();
    await during.stop();
    ctx.expect(during.failed === 0, `${during.failed} request(s) or feedback post(s) failed during curation, training and rollout`);
    if (!end.ok) {
      ctx.expect(false, `the retraining failed: ${end.error}`);
      return { load: null, workflow: trainId!, recoverMs: null, recoveredWhen: 'never' };
    }
    const r = end.result;
    ctx.note(`gate: ${r.decision.reason}; rollout: ${r.rollout?.reason ?? '-'}`);
    ctx.expect(r.promoted, `v${r.model.version} was not promoted (${r.rollout?.reason ?? r.decision.reason})`);

    // 4. Old against new on held-out images nothing above touched.
    const [oldPlain, oldInv, newPlain, newInv] = await Promise.all([
      accuracy(ctx, old.version, evalPlain),
      accuracy(ctx, old.version, evalInverted),
      accuracy(ctx, r.model.version, evalPlain),
      accuracy(ctx, r.model.version, evalInverted),
    ]);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    ctx.note(`held-out accuracy, v${old.version} -> v${r.model.version}: inverted ${pct(oldInv)} -> ${pct(newInv)}, plain ${pct(oldPlain)} -> ${pct(newPlain)} (${evalPlain.length} images each)`);
    ctx.expect(newInv - oldInv >= MARGIN, `on inverted held-out images v${r.model.version} beats v${old.version} by ${pct(newInv - oldInv)}, less than ${pct(MARGIN)}`);
    const fromFeedback = promotedAt - (shift.firstFeedbackAt ?? startedAt);
    ctx.note(`first feedback to promotion: ${(fromFeedback / 1000).toFixed(0)} s (${during.answered} labelled requests meanwhile)`);
    return {
      load: null,
      workflow: `${trainId}: ${r.promoted ? 'promoted' : 'not promoted'} v${r.model.version}`,
      recoverMs: fromFeedback,
      recoveredWhen: 'the retrained version was promoted (time from the first feedback)',
    };
  },
};
