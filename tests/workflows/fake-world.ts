import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CurationResult, DriftCheck, MonitoringActivities, PipelineActivities, RolloutActivities, TrainingActivities } from '../../activities/index';
import type { MeasureDriftInput } from '../../activities/drift';
import type { CurateInput } from '../../activities/curation';
import type { InspectDatasetsInput } from '../../activities/trigger';
import type { AnalysisActivities, AnalyzeStepInput } from '../../activities/analysis';
import type { RolloutEvidenceInput } from '../../activities/rollout-evidence';
import { decideStep } from '../../lib/analysis/decide';
import type { LiveMetrics } from '../../lib/analysis/evidence';
import type { RolloutRecord } from '../../lib/analysis/rollout-record';
import type { CheckpointRef, ClearTrafficInput, DatasetCheck, DeploymentResult, PromotionDecision, RegisteredVersion, ResolvedDataset, TrafficActivities, TrafficInput, TrainedModel } from '../../lib/lifecycle/types';
import { healthyLive } from './fake-live';

export const SPLIT_A = 'a'.repeat(64);
export const SPLIT_B = 'b'.repeat(64);

interface FakeVersion {
  version: string;
  runId: string;
  metric: number;
  split: string;
  digest: string;
  tags: Record<string, string>;
}

interface FakeRun {
  runId: string;
  workflowId: string;
  executionId: string;
  status: 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';
  reason?: string;
}

type AllActivities = PipelineActivities & TrainingActivities & RolloutActivities & TrafficActivities & AnalysisActivities & MonitoringActivities;
export type ActivityName = keyof AllActivities;

/**
 * An in-memory registry, MLflow tracking store and inference fleet behind fake
 * activities with the real activities' signatures, so workflow tests drive
 * every branch of the saga (failures, cancellation, races) deterministically
 * against a real Temporal server. Activities can be made to block at a step
 * until the workflow is cancelled, or to fail with a given error.
 */
export class FakeWorld {
  readonly versions: FakeVersion[] = [];
  readonly aliases: { champion?: string; challenger?: string } = {};
  readonly runs: FakeRun[] = [];
  /** workerId -> version served. */
  readonly fleet = new Map<string, string | null>([
    ['w1', null],
    ['w2', null],
  ]);
  lease: string | null = null;
  readonly calls: string[] = [];
  deploysInFlight = 0;
  maxDeploysInFlight = 0;
  /** What the next trainModel reports. */
  trainedMetric = 0.9;
  trainedSplit = SPLIT_A;
  datasetDigest = 'd'.repeat(32);
  /** Steps that wait (heartbeating) until cancelled or released. */
  private readonly blocked = new Map<string, { released: boolean }>();
  private readonly reached = new Map<string, Array<() => void>>();
  /** Per step: throw this on the first N calls (N = Infinity: always). */
  private readonly failures = new Map<string, { error: () => Error; times: number }>();
  readonly evaluations: { version: string; split: string }[] = [];
  /** Per trainModel attempt: the epoch of the checkpoint its heartbeat details handed it (null: from scratch). */
  readonly trainingResumes: (number | null)[] = [];
  datasetChecks: DatasetCheck[] = [];
  /** The candidate's traffic on the fleet (setTraffic), null when only the champion serves. */
  traffic: { version: string; mode: string; share: number } | null = null;
  /** Every traffic plan set, in order. */
  readonly trafficPlans: TrafficInput[] = [];
  readonly analyses: (AnalyzeStepInput & { calledAt: number })[] = [];
  /** What Prometheus says at each analysis (the real decision logic judges it); default: a healthy candidate. */
  live: (input: AnalyzeStepInput, call: number) => LiveMetrics = (input) => healthyLive(input.championVersion, input.candidateVersion);
  /** The rollout evidence written on each version, newest last. */
  readonly rolloutRecords = new Map<string, RolloutRecord[]>();

  /** What measureDrift answers, and the checks it was asked for. */
  drifted = false;
  readonly driftChecks: MeasureDriftInput[] = [];
  /** Labelled payloads no curated version holds; what curateDataset answers; the curations and data checks asked for. */
  newLabels = 0;
  liveAccuracy: { accuracy: number | null; samples: number } = { accuracy: null, samples: 0 };
  curationResult: (input: CurateInput) => CurationResult = (input) => ({
    status: 'curated',
    modelName: input.modelName,
    dataset: { repo: '/repo', path: `data/${input.modelName}-curated`, rev: 'lifecycle-curated/x', commit: 'd'.repeat(40), digest: 'curated0digest' },
    base: { path: 'data/x', commit: 'c'.repeat(40), digest: this.datasetDigest, championVersion: this.aliases.champion ?? '1' },
    added: { train: 80, test: 20 },
    skipped: 0,
    duplicates: 0,
    conflicting: 0,
    labelledBy: { ci: 100 },
    labelsUntil: 1,
  });
  readonly curations: CurateInput[] = [];
  readonly inspected: InspectDatasetsInput[] = [];

  constructor(readonly modelName: string) {}

  /** A world of a fresh model whose champion v1 scored `metric` (0.5: any trained candidate, 0.9, beats it). */
  static withChampion(modelName: string, metric = 0.5): FakeWorld {
    const world = new FakeWorld(modelName);
    world.seedChampion(metric);
    return world;
  }

  /** Registers a champion as if an earlier run promoted it, served by the whole fleet. */
  seedChampion(metric: number, split = SPLIT_A): string {
    const version = String(this.versions.length + 1);
    this.versions.push({ version, runId: `seed-${version}`, metric, split, digest: 'seed', tags: {} });
    this.aliases.champion = version;
    for (const w of this.fleet.keys()) this.fleet.set(w, version);
    return version;
  }

  block(step: ActivityName): void {
    this.blocked.set(step, { released: false });
  }

  release(step: ActivityName): void {
    const b = this.blocked.get(step);
    if (b) b.released = true;
  }

  fail(step: ActivityName, error: () => Error, times = Infinity): void {
    this.failures.set(step, { error, times });
  }

  /** Resolves once the workflow has called `step`. */
  reach(step: ActivityName): Promise<void> {
    if (this.calls.includes(step)) return Promise.resolve();
    return new Promise((resolve) => this.reached.set(step, [...(this.reached.get(step) ?? []), resolve]));
  }

  run(executionId: string): FakeRun | undefined {
    return this.runs.find((r) => r.executionId === executionId);
  }

  version(v: string): FakeVersion | undefined {
    return this.versions.find((x) => x.version === v);
  }

  /** The alias move as the registry does it: records the replaced champion on the new one. */
  moveAlias(model: RegisteredVersion): { previous: string | null } {
    const previous = this.aliases.champion ?? null;
    if (previous !== model.version) this.version(model.version)!.tags['lifecycle.previous_champion'] = previous ?? 'none';
    this.aliases.champion = model.version;
    this.version(model.version)!.tags['lifecycle.outcome'] = 'promoted';
    return { previous: previous === model.version ? null : previous };
  }

  private async enter(step: string): Promise<void> {
    this.calls.push(step);
    for (const resolve of this.reached.get(step) ?? []) resolve();
    this.reached.delete(step);
    const f = this.failures.get(step);
    if (f && f.times > 0) {
      f.times -= 1;
      throw f.error();
    }
    const b = this.blocked.get(step);
    if (b) {
      const ctx = Context.current();
      while (!b.released) {
        ctx.heartbeat({ phase: 'blocked', step });
        await ctx.sleep(50); // rejects with CancelledFailure once the workflow cancels the activity
      }
    }
  }

  activities(): AllActivities {
    return this.fakes();
  }

  private fakes() {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fakes read and change this world
    const w = this;
    const dataset: ResolvedDataset = { repo: '/repo', path: 'data/x', rev: 'HEAD', commit: 'c'.repeat(40), digest: w.datasetDigest, nfiles: 1, sizeBytes: 1, source: 'fake', name: 'x' };
    const fakes = {
      async resolveDataset() {
        await w.enter('resolveDataset');
        return { ...dataset, digest: w.datasetDigest };
      },
      async inspectDatasets(input: InspectDatasetsInput) {
        w.inspected.push(input);
        await w.enter('inspectDatasets');
        return w.datasetChecks;
      },
      async startRun(input: { workflowId: string; executionId: string }) {
        // The side effect first: a cancel that lands now loses the result, not the run (cleanup finds it by execution).
        let run = w.runs.find((r) => r.executionId === input.executionId);
        if (!run) w.runs.push((run = { runId: `run-${w.runs.length + 1}`, workflowId: input.workflowId, executionId: input.executionId, status: 'RUNNING' }));
        await w.enter('startRun');
        return { runId: run.runId, experimentId: '1', artifactUri: `mlflow-artifacts:/1/${run.runId}/artifacts` };
      },
      async finishRun(input: { runId: string; status: FakeRun['status']; reason?: string }) {
        await w.enter('finishRun');
        const run = w.runs.find((r) => r.runId === input.runId)!;
        run.status = input.status;
        run.reason = input.reason;
      },
      async abandonExecution(input: { executionId: string; status: 'FAILED' | 'KILLED'; reason: string }) {
        await w.enter('abandonExecution');
        const run = w.runs.find((r) => r.executionId === input.executionId);
        if (!run) return { runs: [], versions: [] };
        if (run.status === 'RUNNING') Object.assign(run, { status: input.status, reason: input.reason });
        const versions = w.versions.filter((v) => v.runId === run.runId && v.version !== w.aliases.champion);
        for (const v of versions) {
          v.tags['lifecycle.outcome'] ??= input.status === 'KILLED' ? 'cancelled' : 'failed';
          if (w.aliases.challenger === v.version) delete w.aliases.challenger;
        }
        return { runs: [run.runId], versions: versions.map((v) => v.version) };
      },
      async trainModel(input: { run: { runId: string } }): Promise<TrainedModel> {
        const ctx = Context.current();
        const previous = (ctx.info.heartbeatDetails as { checkpoint?: CheckpointRef } | undefined)?.checkpoint ?? null;
        w.trainingResumes.push(previous?.epoch ?? null);
        const checkpoint: CheckpointRef = { epoch: 1, epochs: 2, sha256: 'e'.repeat(64), artifactUri: `mlflow-artifacts:/1/${input.run.runId}/artifacts/checkpoints/epoch-0001.pt`, localPath: '/tmp/x' };
        ctx.heartbeat({ phase: 'training', epoch: 1, epochs: 2, checkpoint: previous ?? checkpoint });
        await w.enter('trainModel');
        return {
          sha256: 'f'.repeat(64),
          onnxUri: 'mlflow-artifacts:/1/models/m/artifacts/model.onnx',
          modelUri: 'models:/m-1',
          modelId: 'm-1',
          metrics: { test_accuracy: w.trainedMetric },
          resolvedParams: { epochs: 2, seed: 42 },
          splits: { train: 't'.repeat(64), test: w.trainedSplit },
          trainerVersion: 'fake/1',
          durationSeconds: 1,
          resumedFromEpoch: previous?.epoch ?? null,
        };
      },
      async evaluateVersion(input: { model: RegisteredVersion; splitDigest: string }) {
        await w.enter('evaluateVersion');
        w.evaluations.push({ version: input.model.version, split: input.splitDigest });
        const v = w.version(input.model.version)!;
        return { version: v.version, splitDigest: input.splitDigest, test_accuracy: v.metric - 0.05, samples: 100 };
      },
      async registerModel(input: { run: { runId: string }; trained: TrainedModel; dataset: ResolvedDataset }) {
        let v = w.versions.find((x) => x.runId === input.run.runId);
        if (!v) {
          v = { version: String(w.versions.length + 1), runId: input.run.runId, metric: input.trained.metrics.test_accuracy!, split: input.trained.splits.test, digest: input.dataset.digest, tags: {} };
          w.versions.push(v);
        }
        w.aliases.challenger = v.version;
        await w.enter('registerModel'); // registered, then the result is lost to a cancel
        return { name: w.modelName, version: v.version };
      },
      async getChampion() {
        await w.enter('getChampion');
        const v = w.aliases.champion ? w.version(w.aliases.champion) : undefined;
        return v ? { version: v.version, metric: v.metric, splitDigest: v.split, evaluations: {} } : null;
      },
      async championVersion() {
        await w.enter('championVersion');
        return w.aliases.champion ?? null;
      },
      async getVersionInfo(model: RegisteredVersion) {
        await w.enter('getVersionInfo');
        const v = w.version(model.version);
        if (!v) throw ApplicationFailure.nonRetryable(`no version ${model.version}`, 'VERSION_NOT_FOUND');
        return { model, metric: v.metric, splitDigest: v.split, dataset, runId: v.runId };
      },
      async rollbackTarget() {
        await w.enter('rollbackTarget');
        const prev = w.aliases.champion ? w.version(w.aliases.champion)?.tags['lifecycle.previous_champion'] : undefined;
        if (!prev || prev === 'none') throw ApplicationFailure.nonRetryable('nothing to roll back', 'NOTHING_TO_ROLL_BACK');
        return { name: w.modelName, version: prev };
      },
      async recordDecision(model: RegisteredVersion, decision: PromotionDecision) {
        await w.enter('recordDecision');
        const v = w.version(model.version)!;
        v.tags['lifecycle.gate.decision'] = decision.promote ? 'promote' : decision.forced ? 'forced' : 'reject';
        v.tags['lifecycle.gate.split_digest'] = decision.splitDigest ?? 'unknown';
        if (!decision.promote && !decision.forced) v.tags['lifecycle.outcome'] = 'rejected';
      },
      async setChampion(model: RegisteredVersion) {
        await w.enter('setChampion');
        return w.moveAlias(model);
      },
      async moveChampionAlias(input: { model: RegisteredVersion; deploymentId: string }) {
        if (w.lease !== input.deploymentId) throw ApplicationFailure.nonRetryable('alias move without the lease', 'LEASE_LOST');
        await w.enter('moveChampionAlias');
        return w.moveAlias(input.model);
      },
      async acquireRolloutLease(input: { deploymentId: string }) {
        await w.enter('acquireRolloutLease');
        const ctx = Context.current();
        while (w.lease !== null && w.lease !== input.deploymentId) {
          ctx.heartbeat({ phase: 'waiting-for-lease', heldBy: w.lease });
          await ctx.sleep(50);
        }
        w.lease = input.deploymentId;
        return { waitedMs: 0 };
      },
      async releaseRolloutLease(input: { deploymentId: string }) {
        await w.enter('releaseRolloutLease');
        if (w.lease === input.deploymentId) w.lease = null;
      },
      async deployModel(input: { model: RegisteredVersion; deploymentId: string }): Promise<DeploymentResult> {
        if (w.lease !== input.deploymentId) throw ApplicationFailure.nonRetryable('deploy without the lease', 'LEASE_NOT_HELD');
        w.deploysInFlight += 1;
        w.maxDeploysInFlight = Math.max(w.maxDeploysInFlight, w.deploysInFlight);
        try {
          const before = new Map(w.fleet);
          w.fleet.set('w1', input.model.version); // the first worker moves...
          try {
            await w.enter('deployModel');
          } catch (err) {
            for (const [id, v] of before) w.fleet.set(id, v); // ...and goes back when the rollout fails
            throw err;
          }
          for (const id of w.fleet.keys()) w.fleet.set(id, input.model.version);
          return { deploymentId: input.deploymentId, workers: [...w.fleet.keys()] };
        } finally {
          w.deploysInFlight -= 1;
        }
      },
      async restoreFleet() {
        await w.enter('restoreFleet');
        const version = w.aliases.champion ?? null;
        for (const id of w.fleet.keys()) w.fleet.set(id, version);
        return { version, workers: [...w.fleet.keys()], failed: [] };
      },
      async setTraffic(input: TrafficInput) {
        if (w.lease !== input.deploymentId) throw ApplicationFailure.nonRetryable('traffic without the lease', 'LEASE_LOST');
        await w.enter('setTraffic');
        w.traffic = { version: input.model.version, mode: input.mode, share: input.share };
        w.trafficPlans.push(input);
        return { deploymentId: input.deploymentId, workers: [...w.fleet.keys()], appliedAt: Date.now() };
      },
      async clearTraffic(_input: ClearTrafficInput) {
        await w.enter('clearTraffic');
        w.traffic = null;
      },
      async analyzeStep(input: AnalyzeStepInput) {
        await w.enter('analyzeStep');
        w.analyses.push({ ...input, calledAt: Date.now() });
        return decideStep(w.live(input, w.analyses.length), input.step, input.criteria, input.elapsedMs);
      },
      async recordRolloutEvidence(input: RolloutEvidenceInput) {
        await w.enter('recordRolloutEvidence');
        w.rolloutRecords.set(input.model.version, [...(w.rolloutRecords.get(input.model.version) ?? []), input.record]);
        const v = w.version(input.model.version)!;
        v.tags['lifecycle.rollout.evidence'] = JSON.stringify(input.record);
        if (input.record.outcome === 'rolled-back') v.tags['lifecycle.outcome'] = 'rolled-back';
      },
      async liveAccuracyNow() {
        await w.enter('liveAccuracyNow');
        return w.liveAccuracy;
      },
      async countNewLabels() {
        await w.enter('countNewLabels');
        return w.newLabels;
      },
      async curateDataset(input: CurateInput): Promise<CurationResult> {
        await w.enter('curateDataset');
        w.curations.push(input);
        return w.curationResult(input);
      },
      async measureDrift(input: MeasureDriftInput): Promise<DriftCheck> {
        await w.enter('measureDrift');
        w.driftChecks.push(input);
        return { modelName: input.modelName, version: input.version, status: 'ok', drift: w.drifted, driftedShare: w.drifted ? 0.8 : 0, rows: 500, features: {} };
      },
      async finalizeRollout(input: { model: RegisteredVersion }) {
        await w.enter('finalizeRollout');
        for (const id of w.fleet.keys()) w.fleet.set(id, input.model.version);
        return { stragglers: [] };
      },
    };
    return fakes;
  }
}

/** The fleet serves one version, and it is the champion. */
export function fleetAgrees(w: FakeWorld): boolean {
  return [...w.fleet.values()].every((v) => v === (w.aliases.champion ?? null));
}
