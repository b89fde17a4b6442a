import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { defineQuery, patched, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { PROGRESS_QUERY, STATUS_QUERY, type Stage, type StageName, type StageState, type StatusLine, type WorkflowProgress } from '../lib/lifecycle/progress';
import { LIFECYCLE_SEARCH_ATTRIBUTES as SA, type LifecycleOutcome } from '../lib/lifecycle/search-attributes';
import { storyOf, type StoryContext } from '../lib/lifecycle/story';
import type { PipelineStep, RegisteredVersion } from '../lib/lifecycle/types';

/** Executions started before search attributes existed replay without their upserts (each upsert is a command). */
export const SEARCH_ATTRIBUTES_PATCH = 'lifecycle-search-attributes';

export const progressQuery = defineQuery<WorkflowProgress>(PROGRESS_QUERY);
export const statusQuery = defineQuery<StatusLine>(STATUS_QUERY);

/**
 * The workflow's own account of where it is, answered by the `progress` and
 * `status` queries. Times are workflow time (deterministic), so replays agree.
 * It also tells the story to the Temporal UI: the execution's current details
 * (user metadata, no history event) follow every step, and the search
 * attributes (model, dataset, version, outcome) are upserted as they become known.
 */
export class ProgressTracker {
  readonly state: WorkflowProgress;
  private readonly tagged: boolean;

  constructor(
    modelName: string,
    stages: StageName[],
    readonly story: StoryContext,
  ) {
    this.state = {
      workflow: workflowInfo().workflowType,
      modelName,
      step: stages[0] === 'dataset' ? 'resolving-dataset' : 'gating',
      stages: stages.map((name) => ({ name, state: 'pending' })),
    };
    setHandler(progressQuery, () => this.state);
    setHandler(statusQuery, () => ({ step: this.state.step, detail: this.state.detail }));
    this.tagged = patched(SEARCH_ATTRIBUTES_PATCH);
    const first: SearchAttributeUpdatePair[] = [{ key: SA.model, value: modelName }];
    if (story.datasetRef?.path) first.push({ key: SA.datasetPath, value: story.datasetRef.path });
    this.tag(first);
  }

  /** The resolved dataset: shown, and searchable by path and digest. */
  dataset(d: NonNullable<WorkflowProgress['dataset']>): void {
    this.state.dataset = d;
    this.tag([
      { key: SA.datasetPath, value: d.path },
      { key: SA.datasetDigest, value: d.digest },
    ]);
  }

  /** The registered version the execution works on. */
  version(model: RegisteredVersion): void {
    this.state.model = model;
    const n = Number(model.version);
    if (Number.isSafeInteger(n)) this.tag([{ key: SA.version, value: n }]);
  }

  /** Upserts `pairs` with the story so far (the Workflows list column), when this execution sets attributes at all. */
  private tag(pairs: SearchAttributeUpdatePair[]): void {
    this.tell();
    if (this.tagged) upsertSearchAttributes([...pairs, { key: SA.summary, value: storyOf(this.state, this.story) }]);
  }

  /** The execution's one-line story as the UI's "current details" (a query answer: no command, replay-safe). */
  private tell(): void {
    setCurrentDetails(storyOf(this.state, this.story));
  }

  /** Enters `stage` (and the coarse `step` older readers show). */
  begin(stage: StageName, step: PipelineStep, detail?: string): void {
    this.state.step = step;
    this.state.detail = detail;
    this.update(stage, 'running', detail);
  }

  end(stage: StageName, state: Exclude<StageState, 'pending' | 'running'>, detail?: string): void {
    this.update(stage, state, detail);
  }

  /** Marks the workflow's end: `done`, `failed` or `cancelled`, and closes any stage still running. */
  finish(step: 'done' | 'failed' | 'cancelled', detail: string | undefined, outcome: LifecycleOutcome): void {
    this.story.outcome = outcome;
    this.state.step = step;
    this.state.detail = detail;
    if (step !== 'done') this.state.error = detail;
    for (const s of this.state.stages) {
      if (s.state === 'running') this.update(s.name, step === 'done' ? 'done' : 'failed', s.detail);
      else if (s.state === 'pending') this.update(s.name, 'skipped');
    }
    this.tag([{ key: SA.outcome, value: outcome }]);
  }

  private update(name: StageName, state: StageState, detail?: string): void {
    const stage = this.state.stages.find((s) => s.name === name);
    if (!stage) return;
    const now = Date.now();
    if (state === 'running') stage.startedAt = now;
    else if (stage.startedAt !== undefined) stage.endedAt = now;
    stage.state = state;
    if (detail !== undefined) stage.detail = detail;
    this.tell();
  }
}

export type { Stage };
