import type { Logger } from 'pino';
import type { ModelMetadata } from '../model/metadata';
import { FleetProtocolError, TRAFFIC_PLAN_TAG, trafficStateSchema, type ModelRef, type TrafficPlan, type TrafficState } from './protocol';
import { parseTrafficPlan, samePlan } from './traffic-states';

/** What the traffic part of the fleet controller reads from the registry. */
export interface TrafficRegistry {
  registeredModelTag(name: string, key: string): Promise<string | null>;
  resolveVersionRef(name: string, version: string): Promise<ModelRef | null>;
}

export interface TrafficSyncOptions {
  registry: TrafficRegistry;
  metadataOf: (ref: ModelRef) => Promise<ModelMetadata>;
  /** Lease-checked write of one field of the `traffic` hash (null removes it); false when the lease was lost. */
  write: (model: string, state: TrafficState | null) => Promise<boolean>;
  logger: Logger;
  /** After the candidate's file could not be read (download, sha256, metadata), it is not tried again for this long. */
  failureBackoffMs?: number;
}

/**
 * The traffic half of the fleet controller: `traffic[model]` follows the
 * registered model's TRAFFIC_PLAN_TAG (the registry is the truth), with the
 * candidate's ref and serving metadata added so the API can prepare requests
 * for it and workers can load it. A tag that does not parse is no plan: the
 * candidate gets no traffic rather than a guessed one.
 */
export class TrafficSync {
  /** Candidate files (by sha256) whose metadata could not be read, and until when they are left alone. */
  private readonly failedUntil = new Map<string, number>();

  constructor(private readonly opts: TrafficSyncOptions) {}

  async sync(model: string, current: TrafficState | null): Promise<void> {
    const { registry, logger } = this.opts;
    const plan = await this.planOf(model);
    if (!plan) {
      if (current && (await this.opts.write(model, null))) logger.info({ model, version: current.version, mode: current.mode }, 'the traffic plan left the registry; candidate traffic cleared');
      return;
    }
    if (current && samePlan(current, plan)) return;
    const ref = await registry.resolveVersionRef(model, plan.version);
    if (!ref) {
      logger.warn({ model, version: plan.version }, 'the traffic plan names a version the registry does not have; no candidate traffic');
      if (current) await this.opts.write(model, null);
      return;
    }
    // A bad file is not downloaded again on every tick (the rollout's setTraffic verifies it before writing the plan).
    if ((this.failedUntil.get(ref.sha256) ?? 0) > Date.now()) return;
    let metadata: ModelMetadata;
    try {
      metadata = await this.opts.metadataOf(ref);
    } catch (err) {
      this.failedUntil.set(ref.sha256, Date.now() + (this.opts.failureBackoffMs ?? 5000));
      throw err;
    }
    this.failedUntil.delete(ref.sha256);
    const state = trafficStateSchema.parse({ ...plan, candidate: { ...ref, metadata } });
    if (await this.opts.write(model, state)) {
      logger.info({ model, version: plan.version, mode: plan.mode, share: plan.share, deploymentId: plan.deploymentId }, current ? 'the traffic plan changed; fleet traffic follows it' : 'fleet traffic set from the registry plan');
    }
  }

  private async planOf(model: string): Promise<TrafficPlan | null> {
    const raw = await this.opts.registry.registeredModelTag(model, TRAFFIC_PLAN_TAG);
    if (raw === null) return null;
    try {
      return parseTrafficPlan(raw);
    } catch (err) {
      if (!(err instanceof FleetProtocolError)) throw err;
      this.opts.logger.error({ model, err }, `the registry tag ${TRAFFIC_PLAN_TAG} is not a traffic plan; no candidate traffic`);
      return null;
    }
  }
}
