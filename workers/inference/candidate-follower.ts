import type { RedisClient } from '../../lib/queue/redis-connection';
import type { Logger } from 'pino';
import { readActiveModel } from '../../lib/fleet/active-models';
import type { ModelLoadFailure, ModelRef, TrafficState } from '../../lib/fleet/protocol';
import { readTrafficState } from '../../lib/fleet/traffic-states';
import { initVersionSeries, type InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { ModelLoadError } from './model-errors';
import type { LoadedModel } from './model-loader';
import type { ModelServer } from './model-server';
import type { StatusReporter } from './status-reporter';

export interface CandidateFollowerOptions {
  redis: RedisClient;
  prefix: string;
  /** The same load as a deploy: download, sha256, golden check, warm-up; `beside` is the champion it will be compared with. */
  load: (ref: ModelRef, beside: LoadedModel | null) => Promise<LoadedModel>;
  status: StatusReporter;
  metrics: InferenceMetrics;
  logger: Logger;
  /** After a failed load, the same file is not tried again for this long. */
  failureBackoffMs?: number;
}

type PlanLabels = { model: string; version: string; mode: string };

const sameRef = (a: ModelRef | undefined, b: ModelRef) => a?.version === b.version && a.sha256 === b.sha256;

/**
 * Keeps each model server's candidate slot in line with the fleet's
 * `traffic` entry (read-only: the fleet controller writes it): loads the
 * plan's candidate beside the champion, reports it in the worker status
 * (`candidate: {version, state, error?}`), and unloads it once the plan is
 * gone. A missing entry counts as cleared only while the model's `active`
 * entry exists: after Redis restarted empty both are missing until the
 * controller rebuilds them (traffic first), and the candidate stays loaded.
 */
export class CandidateFollower {
  private readonly running = new Set<string>();
  private readonly failedUntil = new Map<string, number>();
  private readonly gauges = new Map<string, PlanLabels>();

  constructor(private readonly opts: CandidateFollowerOptions) {}

  async follow(server: ModelServer): Promise<void> {
    if (this.running.has(server.name)) return;
    this.running.add(server.name);
    try {
      await this.followOnce(server);
    } catch (err) {
      this.opts.logger.warn({ err, model: server.name }, 'following the fleet traffic plan failed; will retry');
    } finally {
      this.running.delete(server.name);
    }
  }

  private async followOnce(server: ModelServer): Promise<void> {
    const { redis, prefix } = this.opts;
    const state = await readTrafficState(redis, prefix, server.name);
    if (!state) {
      const holding = server.candidate.model !== null || this.gauges.has(server.name);
      if (holding && (await readActiveModel(redis, prefix, server.name))) await this.unload(server);
      return;
    }
    this.exportPlan(state);
    const candidate = state.candidate;
    if (sameRef(server.candidate.model?.ref, candidate)) return;
    if (sameRef(server.slot.model?.ref, candidate)) {
      // The candidate is the champion already (the rollout went all the way): nothing to load beside it.
      this.dropCandidate(server);
      await this.opts.status.setCandidate(server.name, { version: candidate.version, state: 'ready' });
      return;
    }
    if ((this.failedUntil.get(candidate.sha256) ?? 0) > Date.now()) return;
    await this.load(server, candidate);
  }

  private async load(server: ModelServer, ref: ModelRef): Promise<void> {
    const { status, logger, metrics } = this.opts;
    await status.setCandidate(server.name, { version: ref.version, state: 'loading' });
    let model;
    try {
      model = await this.opts.load(ref, server.slot.model);
    } catch (err) {
      const error: ModelLoadFailure = err instanceof ModelLoadError ? { code: err.code, message: err.message } : { code: 'MODEL_LOAD_FAILED', message: String(err instanceof Error ? err.message : err) };
      metrics.modelLoads.inc({ model: ref.name, outcome: 'failed' });
      this.failedUntil.set(ref.sha256, Date.now() + (this.opts.failureBackoffMs ?? 30_000));
      logger.error({ err, model: ref.name, version: ref.version }, 'candidate load failed; the champion keeps serving alone');
      this.dropCandidate(server);
      await status.setCandidate(server.name, { version: ref.version, state: 'failed', error });
      return;
    }
    server.candidate.swap(model);
    initVersionSeries(metrics, ref.name, ref.version, model.metadata.labels);
    metrics.modelLoads.inc({ model: ref.name, outcome: 'ok' });
    this.failedUntil.delete(ref.sha256);
    logger.info({ model: ref.name, version: ref.version }, 'candidate loaded beside the champion');
    // Outside the load's failure handling: a status write that fails (Redis restarting) is not the model's
    // fault. The status is kept in memory and published again with the next heartbeat or reconnect.
    await status.setCandidate(server.name, { version: ref.version, state: 'ready' });
  }

  private async unload(server: ModelServer): Promise<void> {
    const version = server.candidate.model?.ref.version;
    this.dropCandidate(server);
    this.clearPlan(server.name);
    await this.opts.status.setCandidate(server.name, undefined);
    this.opts.logger.info({ model: server.name, version }, 'traffic plan cleared; candidate unloaded');
  }

  private dropCandidate(server: ModelServer): void {
    if (server.candidate.model) server.candidate.clear();
  }

  /** The plan gauges: traffic share, and the step's start and maximum duration (CanaryHeldTooLong). */
  private exportPlan(state: TrafficState): void {
    const { metrics } = this.opts;
    const labels: PlanLabels = { model: state.candidate.name, version: state.version, mode: state.mode };
    const before = this.gauges.get(labels.model);
    if (before && (before.version !== labels.version || before.mode !== labels.mode)) this.clearPlan(labels.model);
    this.gauges.set(labels.model, labels);
    metrics.trafficShare.set(labels, state.share);
    metrics.trafficPlanSetAt.set(labels, state.setAt / 1000);
    if (state.maxDurationMs !== undefined) metrics.trafficPlanMaxDuration.set(labels, state.maxDurationMs / 1000);
    else metrics.trafficPlanMaxDuration.remove(labels);
  }

  private clearPlan(model: string): void {
    const labels = this.gauges.get(model);
    if (!labels) return;
    this.gauges.delete(model);
    const { metrics } = this.opts;
    for (const gauge of [metrics.trafficShare, metrics.trafficPlanSetAt, metrics.trafficPlanMaxDuration]) gauge.remove(labels);
  }
}
