/**
 * "The UIs tell the story" checks, run inside tests/integration/lifecycle.test.ts
 * on the executions it already made (no training of their own): the Temporal UI
 * and CLI find an execution by its search attributes and show its story, and the
 * MLflow registry reads like one (descriptions, few tags, a champion history).
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { championHistory } from '../../activities/version-story';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA } from '../../lib/lifecycle/search-attributes';
import { MAX_LIFECYCLE_VERSION_TAGS, VERSION_TAGS, tagsOf, type MlflowClient } from '../../lib/mlflow/client';
import { runCommand } from '../../lib/process/run';
import { MLFLOW_TRACKING_URI, ROOT, VENV_BIN } from './support/env';
import { viewWorkflow } from './support/temporal-ui';

interface TemporalStoryContext {
  client: Client;
  modelName: string;
  /** A trainAndPromote workflow id the suite ran. */
  workflowId: string;
  uiUrl: string;
  temporalAddress: string;
}

export function describeTemporalStory(get: () => TemporalStoryContext): void {
  it('shows the execution on the Temporal UI Workflows page with its story and model, and `temporal workflow list` finds it by model', async () => {
    const { client, modelName, workflowId, uiUrl, temporalAddress } = get();
    const described = await client.workflow.getHandle(workflowId).describe();
    const attrs = described.typedSearchAttributes;
    const version = attrs.get(SA.version);
    const story = attrs.get(SA.summary) ?? '';
    expect(attrs.get(SA.model)).toBe(modelName);
    expect(attrs.get(SA.datasetDigest)).toMatch(/^[0-9a-f]{32}$/);
    expect(['promoted', 'rejected']).toContain(attrs.get(SA.outcome));
    expect(story).toMatch(new RegExp(`^train ${modelName} on tiny@[0-9a-f]{7} -> v${version}, (promoted|rejected): test_accuracy \\d\\.\\d{4}`));
    expect(await described.staticSummary()).toMatch(new RegExp(`^train ${modelName} on `));

    const listed = await runCommand(join(VENV_BIN, 'temporal'), ['workflow', 'list', '--address', temporalAddress, '--query', `LifecycleModel='${modelName}'`, '--output', 'json'], { cwd: ROOT });
    expect(listed.stdout).toContain(workflowId);
    const rolledBack = await runCommand(
      join(VENV_BIN, 'temporal'),
      ['workflow', 'list', '--address', temporalAddress, '--query', `LifecycleModel='${modelName}' AND LifecycleOutcome='rolled-back'`, '--output', 'json'],
      { cwd: ROOT },
    );
    expect(rolledBack.stdout).toMatch(new RegExp(`rollback-${modelName}`));
    expect(rolledBack.stdout).not.toContain(workflowId);

    const summary = (await described.staticSummary())!;
    const activity = `recordDecision • record the gate on ${modelName} v${version}:`;
    const view = await viewWorkflow(uiUrl, workflowId, [SA.model.name, SA.outcome.name, SA.summary.name], [summary, story, activity]);
    // The Workflows list: the execution's row shows its model and story in the configured columns.
    expect(view.row).toContain(modelName);
    expect(view.row).toContain(story);
    // Its page: the start summary and the story (user metadata), and the activities' summaries on the timeline.
    expect(view.detail).toContain(summary);
    expect(view.detail).toContain(story);
    expect(view.detail).toContain(activity);
  });

  it('`lifecycle status` filters the lifecycle workflows by model and outcome and prints their story', async () => {
    const { modelName, temporalAddress } = get();
    const env = { ...process.env, TEMPORAL_ADDRESS: temporalAddress, MLFLOW_TRACKING_URI };
    const status = await runCommand(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'cli/index.ts'), 'status', '--model', modelName, '--outcome', 'rolled-back'], { cwd: ROOT, env });
    const rows = status.stdout.split('\n').filter((l) => /^\s+(COMPLETED|RUNNING|FAILED)/.test(l));
    expect(rows.length).toBe(1);
    expect(rows[0]).toMatch(/rolled-back\s+promoteVersion\s+rollback-/);
    expect(status.stdout).toContain(`roll ${modelName} back to v`);
  });
}

export function describeRegistry(get: () => { mlflow: MlflowClient; modelName: string }): void {
  it(`describes every registered version (metric, split, dataset, gate, outcome) and keeps at most ${MAX_LIFECYCLE_VERSION_TAGS} lifecycle tags on it`, async () => {
    const { mlflow, modelName } = get();
    const versions = await mlflow.searchAllModelVersions(`name='${modelName}'`);
    expect(versions.length).toBeGreaterThanOrEqual(3);
    const allowed: string[] = Object.values(VERSION_TAGS);
    for (const listed of versions) {
      const mv = await mlflow.getModelVersion(modelName, listed.version);
      expect(mv.description ?? '').toMatch(/\*\*test_accuracy \d\.\d{4}\*\* on held-out split [0-9a-f]{6} of tiny@[0-9a-f]{7}/);
      expect(mv.description).toMatch(/Outcome: \*\*(champion|promoted|rejected|rolled-back|failed|cancelled)\*\*\. Gate: test_accuracy /);
      const keys = Object.keys(tagsOf(mv));
      expect(keys.filter((k) => !allowed.includes(k))).toEqual([]);
      expect(keys.length).toBeLessThanOrEqual(MAX_LIFECYCLE_VERSION_TAGS);
    }
    const champion = (await mlflow.getModelVersionByAlias(modelName, 'champion'))!;
    expect(champion.description).toContain('Outcome: **champion**');
    const rolledBack = versions.filter((mv) => tagsOf(mv)[VERSION_TAGS.outcome] === 'rolled-back');
    expect(rolledBack).toHaveLength(1);
    expect(rolledBack[0]!.description).toMatch(/rolled back: v\d+ took over \(promoteVersion rollback-/);
  });

  it('keeps the champion history on the registered model: which version was champion when, made so by whom and why', async () => {
    const { mlflow, modelName } = get();
    const history = championHistory((await mlflow.getRegisteredModel(modelName))?.description);
    // Newest first: the rollback, the forced promote, ..., the first champion.
    expect(history.length).toBeGreaterThanOrEqual(3);
    expect(history[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC v\d+ replaced v\d+ by promoteVersion rollback-.* \(rollback: test_accuracy /);
    expect(history[1]).toMatch(/by promoteVersion promote-.* \(forced promotion: test_accuracy .*; reason: cli test\)$/);
    expect(history[history.length - 1]).toMatch(/v\d+ became the first champion by trainAndPromote .* \(promotion: test_accuracy \d\.\d{4} on split [0-9a-f]{6}, first champion\)$/);
  });
}
