import { defineUpdate, setHandler } from '@temporalio/workflow';
import type { RolloutProgress } from '../lib/lifecycle/progress';
import { ROLLOUT_UPDATES, rolloutUpdateArgSchema, type RolloutUpdateArg } from '../lib/lifecycle/rollout-updates';

export const approveUpdate = defineUpdate<string, [RolloutUpdateArg]>(ROLLOUT_UPDATES.approve);
export const abortUpdate = defineUpdate<string, [RolloutUpdateArg]>(ROLLOUT_UPDATES.abort);
export const pauseUpdate = defineUpdate<string, [RolloutUpdateArg]>(ROLLOUT_UPDATES.pause);
export const resumeUpdate = defineUpdate<string, [RolloutUpdateArg]>(ROLLOUT_UPDATES.resume);

/**
 * A person's hold on a progressive rollout, through Temporal Updates: each
 * validator refuses what makes no sense now (the refusal is the caller's
 * answer and leaves no trace in the history), each handler changes this
 * state, and the rollout loop (progressive-rollout.ts) wakes on it.
 */
export class RolloutControl {
  /** Set while a progressive rollout runs (from the first step until it passed or rolled back). */
  progress: RolloutProgress | null = null;
  paused = false;
  /** Workflow time the current pause began (the step's clock leaves paused time out). */
  private pausedSince: number | null = null;
  abortRequested: RolloutUpdateArg | null = null;
  awaitingApproval = false;
  approved: RolloutUpdateArg | null = null;

  constructor(private readonly modelName: string) {
    setHandler(approveUpdate, (a: RolloutUpdateArg | undefined) => this.act('approve', a, () => (this.approved = a ?? {})), {
      validator: (a: RolloutUpdateArg | undefined) => {
        this.valid(a);
        if (!this.awaitingApproval) throw new Error(`nothing to approve: ${this.where()}; approval is asked after the last step when the rollout has requireApproval`);
      },
    });
    setHandler(abortUpdate, (a: RolloutUpdateArg | undefined) => this.act('abort', a, () => (this.abortRequested = a ?? {})), {
      validator: (a: RolloutUpdateArg | undefined) => {
        this.valid(a);
        this.running('abort');
        if (this.abortRequested) throw new Error(`the rollout of ${this.modelName} is already being aborted`);
      },
    });
    setHandler(pauseUpdate, (a: RolloutUpdateArg | undefined) => this.act('pause', a, () => this.pause()), {
      validator: (a: RolloutUpdateArg | undefined) => {
        this.valid(a);
        this.running('pause');
        if (this.paused) throw new Error(`the rollout of ${this.modelName} is already paused`);
        if (this.awaitingApproval) throw new Error(`the rollout of ${this.modelName} waits for approval: approve or abort it`);
      },
    });
    setHandler(resumeUpdate, (a: RolloutUpdateArg | undefined) => this.act('resume', a, () => this.resume()), {
      validator: (a: RolloutUpdateArg | undefined) => {
        this.valid(a);
        this.running('resume');
        if (!this.paused) throw new Error(`the rollout of ${this.modelName} is not paused`);
      },
    });
  }

  private pause(): void {
    this.paused = true;
    this.pausedSince = Date.now();
    if (this.progress) this.progress.state = 'paused';
  }

  private resume(): void {
    // Only the paused time inside the current step counts against its clock (a pause may begin while its traffic is applied).
    if (this.progress && this.pausedSince !== null) this.progress.pausedMs += Date.now() - Math.max(this.pausedSince, this.progress.stepStartedAt ?? Date.now());
    this.paused = false;
    this.pausedSince = null;
    if (this.progress) this.progress.state = 'running';
  }

  private act(action: string, a: RolloutUpdateArg | undefined, apply: () => unknown): string {
    apply();
    if (this.progress) this.progress.lastAction = { action, at: Date.now(), ...(a?.by ? { by: a.by } : {}), ...(a?.reason ? { reason: a.reason } : {}) };
    return `${action}: accepted (${this.where()})`;
  }

  private valid(a: RolloutUpdateArg | undefined): void {
    const parsed = rolloutUpdateArgSchema.safeParse(a ?? {});
    if (!parsed.success) throw new Error(`bad argument: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(arg)'}: ${i.message}`).join('; ')}`);
  }

  private running(action: string): void {
    const p = this.progress;
    if (!p || p.state === 'passed' || p.state === 'rolled-back') throw new Error(`cannot ${action}: no progressive rollout of ${this.modelName} is in progress in this workflow`);
  }

  private where(): string {
    const p = this.progress;
    if (!p) return `no progressive rollout of ${this.modelName} in progress`;
    const s = p.steps[p.stepIndex];
    return `${this.modelName} step ${p.stepIndex + 1}/${p.steps.length}${s ? ` ${s.mode} ${Math.round(s.share * 100)}%` : ''}, ${p.state}`;
  }
}
