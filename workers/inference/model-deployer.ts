import type { Logger } from 'pino';
import type { ModelLoadFailure, ModelRef } from '../../lib/fleet/protocol';
import { initVersionSeries, type InferenceMetrics } from '../../lib/metrics/inference-metrics';
import { ModelLoadError } from './model-errors';
import type { LoadedModel } from './model-loader';
import type { ModelServer } from './model-server';
import type { StatusReporter } from './status-reporter';

export interface ModelDeployerOptions {
  load: (ref: ModelRef) => Promise<LoadedModel>;
  status: StatusReporter;
  metrics: InferenceMetrics;
  logger: Logger;
  /** After a failed load, the same file is not tried again on the worker's own initiative for this long. */
  failureBackoffMs?: number;
}

/**
 * Loads a version beside the one a model server is serving and swaps it in
 * (download, sha256, golden check and warm-up happen in `load`); on failure it
 * reports `failed` and keeps serving. Deploys of one model run strictly one
 * after another: a rollback right after a deploy must not race it.
 */
export class ModelDeployer {
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly failedUntil = new Map<string, number>();
  private stopped = false;

  constructor(private readonly opts: ModelDeployerOptions) {}

  /** Whether the file `sha256` failed to load recently (the reconciler backs off instead of retrying every tick). */
  recentlyFailed(sha256: string): boolean {
    return (this.failedUntil.get(sha256) ?? 0) > Date.now();
  }

  deploy(server: ModelServer, ref: ModelRef, deploymentId?: string): Promise<boolean> {
    return this.serialize(server.name, () => this.load(server, ref, deploymentId));
  }

  unload(server: ModelServer, deploymentId?: string): Promise<void> {
    return this.serialize(server.name, async () => {
      const previous = server.slot.model?.ref;
      server.slot.clear();
      if (previous) this.opts.metrics.modelInfo.remove({ name: previous.name, version: previous.version });
      await this.opts.status.setModel(server.name, { version: null, sha256: null, state: 'starting', deploymentId });
      this.opts.logger.info({ model: server.name, deploymentId }, 'model unloaded');
    });
  }

  /** Waits for every deploy in progress. */
  async idle(): Promise<void> {
    await Promise.all([...this.chains.values()].map((p) => p.catch(() => undefined)));
  }

  stop(): void {
    this.stopped = true;
  }

  private serialize<T>(model: string, task: () => Promise<T>): Promise<T> {
    const next = (this.chains.get(model) ?? Promise.resolve()).catch(() => undefined).then(task);
    this.chains.set(model, next);
    return next;
  }

  private async load(server: ModelServer, ref: ModelRef, deploymentId?: string): Promise<boolean> {
    const { status, logger, metrics } = this.opts;
    const serving = server.slot.model?.ref;
    if (serving && serving.sha256 === ref.sha256 && serving.version === ref.version) {
      await status.setModel(server.name, { version: ref.version, sha256: ref.sha256, state: 'ready', deploymentId });
      return true;
    }
    const current = { version: serving?.version ?? null, sha256: serving?.sha256 ?? null };
    await status.setModel(server.name, { ...current, state: 'loading', deploymentId });
    try {
      const model = await this.opts.load(ref);
      if (this.stopped) {
        await model.runner.release();
        return false;
      }
      server.slot.swap(model);
      initVersionSeries(metrics, ref.name, ref.version, model.metadata.labels);
      if (serving) metrics.modelInfo.remove({ name: serving.name, version: serving.version });
      metrics.modelInfo.set({ name: ref.name, version: ref.version }, 1);
      metrics.modelLoads.inc({ model: ref.name, outcome: 'ok' });
      this.failedUntil.delete(ref.sha256);
      logger.info({ model: ref.name, version: ref.version, from: serving?.version, deploymentId }, 'model swapped in');
      await status.setModel(server.name, { version: ref.version, sha256: ref.sha256, state: 'ready', deploymentId });
      return true;
    } catch (err) {
      const error: ModelLoadFailure = err instanceof ModelLoadError ? { code: err.code, message: err.message } : { code: 'MODEL_LOAD_FAILED', message: String(err instanceof Error ? err.message : err) };
      metrics.modelLoads.inc({ model: ref.name, outcome: 'failed' });
      this.failedUntil.set(ref.sha256, Date.now() + (this.opts.failureBackoffMs ?? 30_000));
      logger.error({ err, model: ref.name, version: ref.version, deploymentId }, 'model load failed; keeping the served model');
      await status.setModel(server.name, { ...current, state: 'failed', deploymentId, error });
      return false;
    }
  }
}
