import { defineQuery, setHandler, workflowInfo } from '@temporalio/workflow';
import { PROGRESS_QUERY, STATUS_QUERY, type Stage, type StageName, type StageState, type StatusLine, type WorkflowProgress } from '../lib/lifecycle/progress';
import type { PipelineStep } from '../lib/lifecycle/types';

export const progressQuery = defineQuery<WorkflowProgress>(PROGRESS_QUERY);
export const statusQuery = defineQuery<StatusLine>(STATUS_QUERY);

/**
 * The workflow's own account of where it is, answered by the `progress` and
 * `status` queries. Times are workflow time (deterministic), so replays agree.
 */
export class ProgressTracker {
  readonly state: WorkflowProgress;

  constructor(modelName: string, stages: StageName[]) {
    this.state = {
      workflow: workflowInfo().workflowType,
      modelName,
      step: stages[0] === 'dataset' ? 'resolving-dataset' : 'gating',
      stages: stages.map((name) => ({ name, state: 'pending' })),
    };
    setHandler(progressQuery, () => this.state);
    setHandler(statusQuery, () => ({ step: this.state.step, detail: this.state.detail }));
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
  finish(step: 'done' | 'failed' | 'cancelled', detail?: string): void {
    this.state.step = step;
    this.state.detail = detail;
    if (step !== 'done') this.state.error = detail;
    for (const s of this.state.stages) {
      if (s.state === 'running') this.update(s.name, step === 'done' ? 'done' : 'failed', s.detail);
      else if (s.state === 'pending') this.update(s.name, 'skipped');
    }
  }

  private update(name: StageName, state: StageState, detail?: string): void {
    const stage = this.state.stages.find((s) => s.name === name);
    if (!stage) return;
    const now = Date.now();
    if (state === 'running') stage.startedAt = now;
    else if (stage.startedAt !== undefined) stage.endedAt = now;
    stage.state = state;
    if (detail !== undefined) stage.detail = detail;
  }
}

export type { Stage };
