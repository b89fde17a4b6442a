/**
 * A bad model that passes the offline gate is caught on live traffic. The drill publishes a dataset
 * version whose train AND test images are inverted (a throw-away git + DVC repository, pushed to its
 * own DVC remote, as a user publishes one) and runs the real trainAndPromote on it with a short
 * progressive rollout, under a load of held-out (not inverted) Fashion-MNIST images. Offline the
 * candidate scores well on its own inverted split, and the champion, re-evaluated on that split,
 * near chance: the gate promotes it. Live it disagrees with the champion: the analysis must roll it
 * back on its own, with agreement among the failed criteria; the alias never moves; it answered no
 * more than its canary share (plus 2 points) of the requests; no request failed.
 */
import { VERSION_TAGS, tagsOf } from '../../lib/mlflow/client';
import { rolloutRecordSchema } from '../../lib/analysis/rollout-record';
import type { TrainAndPromoteResult } from '../../lib/lifecycle/types';
import { createTinyDatasetRepo } from '../../tests/integration/support/dvc-repo';
import { championRef } from '../consistency';
import { expectCleanLoad, type Drill } from '../drill';
import { describeTraining, ending, startTrain } from '../workflows';
import { stamp } from './common';
import { answeredShare, drillRollout, expectRegistry } from './progressive';

// Shadow first (no user sees the candidate), then a canary that a sound model would pass.
const STEPS = 'shadow:100%:10s:40s,canary:30%:10s:40s';
const CANARY_SHARE = 0.3;

export const canaryInverted: Drill = {
  name: 'canary-inverted',
  fault: 'a model trained on inverted images (its test split inverted too) passes the offline gate and is promoted progressively under load',
  ci: true,
  async run(ctx) {
    const { stack } = ctx;
    const old = await championRef(stack);
    const dataset = await createTinyDatasetRepo({ perClassTrain: 60, perClassTest: 20, invert: true });
    ctx.defer('remove the inverted dataset repository', () => dataset.cleanup());
    const rev = dataset.rev;
    const load = ctx.startLoad();
    await ctx.settle();
    const startedAt = Date.now();
    const workflowId = `drill-canary-inverted-${stamp()}`;
    const handle = await startTrain(stack, workflowId, {
      dataset: { repo: dataset.repo, path: dataset.path, rev },
      params: { epochs: 3, batch_size: 32, seed: 5 },
      rollout: { ...drillRollout(STEPS), strategy: 'progressive' },
    });
    ctx.log(`training on inverted images (${dataset.repo}@${rev}), then a progressive rollout (${STEPS}) over champion v${old.version}`);
    const end = await ending<TrainAndPromoteResult>(handle, 5 * 60_000);
    const endedAt = Date.now();
    await ctx.settle();
    const summary = await load.stop();

    if (!end.ok) {
      ctx.expect(false, `the workflow failed: ${end.error}`);
      return { load: summary, workflow: describeTraining(end), recoverMs: null, recoveredWhen: 'never: the workflow failed' };
    }
    const r = end.result;
    const gate = r.decision;
    ctx.note(`offline gate: ${gate.reason}`);
    ctx.expect(gate.promote, `the offline gate stopped v${r.model.version} (${gate.reason}): the drill needs a model the gate lets through`);
    ctx.expect(!r.promoted && r.rolledBack === true, `the analysis did not roll v${r.model.version} back: ${describeTraining(end)}`);
    if (r.rollout?.reason) ctx.note(`rolled back: ${r.rollout.reason}`);
    ctx.expect((await championRef(stack)).version === old.version, `the champion alias moved off v${old.version}`);
    await expectRegistry(ctx, r.model.version, { outcome: 'rolled-back', minSteps: 1 });
    // Caught by what it answers, not by an incidental criterion (latency on a busy 2-core machine).
    const evidence = rolloutRecordSchema.parse(JSON.parse(tagsOf(await stack.mlflow.getModelVersion(stack.modelName, r.model.version))[VERSION_TAGS.rollout] ?? '{}'));
    const last = evidence.steps.at(-1);
    ctx.expect(last?.verdicts.agreement === 'fail', `agreement did not fail in the deciding analysis (verdicts ${JSON.stringify(last?.verdicts)})`);
    if (last) ctx.note(`deciding analysis (${last.mode} ${100 * last.share}%): agreement ${last.agreement}, class distance ${last.classDistance}, n ${last.n}`);
    expectCleanLoad(ctx, summary);
    const during = answeredShare(load.records, r.model.version, startedAt, endedAt);
    ctx.expect(during.share <= CANARY_SHARE + 0.02, `v${r.model.version} answered ${(100 * during.share).toFixed(1)}% of requests, above its canary share ${100 * CANARY_SHARE}% + 2 points`);
    const after = answeredShare(load.records, r.model.version, endedAt, Infinity);
    ctx.expect(after.candidate === 0, `${after.candidate} request(s) sent after the rollback were answered by v${r.model.version}`);
    ctx.note(`v${r.model.version} test_accuracy ${(r.metrics.test_accuracy ?? NaN).toFixed(3)} on its own (inverted) split; answered ${during.candidate}/${during.ok} live requests; workflow ${((endedAt - startedAt) / 1000).toFixed(1)} s`);
    return { load: summary, workflow: describeTraining(end), recoverMs: endedAt - startedAt, recoveredWhen: 'the analysis rolled the candidate back (traffic cleared, every worker on the champion)' };
  },
};
