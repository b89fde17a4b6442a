import type { ModelRef } from '../fleet/protocol';
import type * as T from './types';
import { MlflowError, MlflowHttp, authFromEnv, expectOk, type MlflowAuth } from './http';

export { MlflowError, authFromEnv, type MlflowAuth } from './http';

export type * from './types';

/**
 * Model-version tags Lifecycle writes: only what machines read (serving, the gate, the data
 * trigger, rollback, cleanup). Everything else about a version is a fact of its training run
 * (params, metrics, dataset, trainer, workflow: tags and metrics on the run) or is told to people
 * in the version's description. At most MAX_LIFECYCLE_VERSION_TAGS of them on a version.
 */
export const VERSION_TAGS = {
  /** sha256 of the ONNX file: workers refuse a file whose hash differs. */
  sha256: 'lifecycle.sha256',
  /** `mlflow-artifacts:/...` URI of that ONNX file: what workers download. */
  onnxUri: 'lifecycle.onnx_uri',
  /** The MLflow logged model (`m-...`) the version was registered from: the drills register copies from it. */
  modelId: 'lifecycle.model_id',
  /** DVC md5 of the training dataset: the data trigger searches versions by it. */
  datasetDigest: 'lifecycle.dataset_digest',
  /** sha256 digest of the held-out split the version's metrics were measured on: the fair gate compares on it. */
  testSplitDigest: 'lifecycle.dataset.test_digest',
  /** The champion this version replaced when it was promoted (what `rollback` goes back to). */
  previousChampion: 'lifecycle.previous_champion',
  /** promoted | rejected | rolled-back | cancelled | failed: where the version stands. */
  outcome: 'lifecycle.outcome',
  /** The latest promotion-gate evidence, one JSON object (see GateEvidence in activities/registry.ts). */
  gate: 'lifecycle.gate.evidence',
  /** The progressive rollout's evidence: each step's deciding analysis and the outcome, one JSON object (lib/analysis/rollout-record.ts). */
  rollout: 'lifecycle.rollout.evidence',
} as const;

/** The bound on Lifecycle's tags per version (VERSION_TAGS); tests hold every registered version to it. */
export const MAX_LIFECYCLE_VERSION_TAGS = Object.keys(VERSION_TAGS).length;

/**
 * Version tags older releases wrote (about thirty per version), still read as a fallback so a
 * registry from before the move keeps working: the run id (MLflow keeps it natively), metrics
 * (`lifecycle.metric.<name>`), evaluations (`lifecycle.eval.<split>.<metric>`), dataset coordinates
 * (`lifecycle.dataset.*`, now run tags) and the gate evidence as separate `lifecycle.gate.*` tags.
 */
export const LEGACY_VERSION_TAGS = {
  runId: 'lifecycle.run_id',
  metricPrefix: 'lifecycle.metric.',
  gateDecision: 'lifecycle.gate.decision',
} as const;

export interface MlflowClientOptions {
  trackingUri: string;
  fetchImpl?: typeof fetch;
  /** Per-call timeout; MLflow calls are small, so anything slower is a fault. */
  timeoutMs?: number;
  /** Default: MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN from the environment, like MLflow's own clients. */
  auth?: MlflowAuth;
}

/**
 * A thin typed client for the MLflow 2.0 REST API (tracking, registry with
 * aliases, proxied artifacts). MLflow ships no maintained JS client, so the
 * handful of calls Lifecycle needs are written here.
 */
export class MlflowClient {
  private readonly base: string;
  private readonly http: MlflowHttp;

  constructor(opts: MlflowClientOptions) {
    this.base = opts.trackingUri.replace(/\/+$/, '');
    this.http = new MlflowHttp({ base: this.base, fetchImpl: opts.fetchImpl ?? fetch, timeoutMs: opts.timeoutMs ?? 30_000, auth: opts.auth ?? authFromEnv() });
  }

  /** The tracking server this client talks to (handed to MLflow's Python client as MLFLOW_TRACKING_URI). */
  get trackingUri(): string {
    return this.base;
  }

  private get<R>(endpoint: string, query: Record<string, string>): Promise<R> {
    return this.http.get<R>(endpoint, query);
  }

  private post<R>(endpoint: string, body: unknown, method?: 'POST' | 'PATCH' | 'DELETE'): Promise<R> {
    return this.http.post<R>(endpoint, body, method);
  }

  // ---- experiments & runs ------------------------------------------------

  async getOrCreateExperiment(name: string): Promise<string> {
    try {
      const res = await this.get<{ experiment: T.Experiment }>('experiments/get-by-name', { experiment_name: name });
      return res.experiment.experiment_id;
    } catch (err) {
      if (!(err instanceof MlflowError && err.notFound)) throw err;
    }
    try {
      const res = await this.post<{ experiment_id: string }>('experiments/create', { name });
      return res.experiment_id;
    } catch (err) {
      // Lost a race with another creator: read it back.
      if (err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS') return this.getOrCreateExperiment(name);
      throw err;
    }
  }

  async createRun(experimentId: string, runName: string, tags: Record<string, string>): Promise<T.Run> {
    const res = await this.post<{ run: T.Run }>('runs/create', {
      experiment_id: experimentId,
      run_name: runName,
      start_time: Date.now(),
      tags: toKeyValues(tags),
    });
    return res.run;
  }

  async getRun(runId: string): Promise<T.Run> {
    return (await this.get<{ run: T.Run }>('runs/get', { run_id: runId })).run;
  }

  async searchRuns(experimentIds: string[], filter: string, maxResults = 10): Promise<T.Run[]> {
    const res = await this.post<{ runs?: T.Run[] }>('runs/search', {
      experiment_ids: experimentIds,
      filter,
      max_results: maxResults,
      run_view_type: 'ACTIVE_ONLY',
    });
    return res.runs ?? [];
  }

  async logBatch(runId: string, batch: { metrics?: T.Metric[]; params?: Record<string, string>; tags?: Record<string, string> }): Promise<void> {
    await this.post('runs/log-batch', {
      run_id: runId,
      metrics: batch.metrics ?? [],
      params: toKeyValues(batch.params ?? {}),
      tags: toKeyValues(batch.tags ?? {}),
    });
  }

  async logInputs(runId: string, datasets: T.DatasetInput[]): Promise<void> {
    await this.post('runs/log-inputs', { run_id: runId, datasets });
  }

  async setTerminated(runId: string, status: 'FINISHED' | 'FAILED' | 'KILLED'): Promise<void> {
    await this.post('runs/update', { run_id: runId, status, end_time: Date.now() });
  }

  /** An MLflow 3 logged model by id (the `m-...` of a `models:/m-...` URI). */
  async getLoggedModel(modelId: string): Promise<T.LoggedModel> {
    return (await this.get<{ model: T.LoggedModel }>(`logged-models/${encodeURIComponent(modelId)}`, {})).model;
  }

  // ---- proxied artifacts ---------------------------------------------------

  /** HTTP address of an `mlflow-artifacts:/...` URI on this tracking server. */
  artifactUrl(artifactUri: string): string {
    const prefix = 'mlflow-artifacts:';
    if (!artifactUri.startsWith(prefix)) {
      throw new MlflowError(`Only proxied artifact URIs (mlflow-artifacts:/...) are supported, got ${artifactUri}`, 400, 'INVALID_PARAMETER_VALUE');
    }
    const path = artifactUri.slice(prefix.length).replace(/^\/+/, '');
    return `${this.base}/api/2.0/mlflow-artifacts/artifacts/${path.split('/').map(encodeURIComponent).join('/')}`;
  }

  async uploadArtifact(artifactUri: string, body: Buffer, contentType = 'application/octet-stream'): Promise<void> {
    const res = await this.http.request(this.artifactUrl(artifactUri), { method: 'PUT', body, headers: { 'content-type': contentType } });
    await expectOk(res, `upload ${artifactUri}`);
  }

  async downloadArtifact(artifactUri: string): Promise<Buffer> {
    const res = await this.http.request(this.artifactUrl(artifactUri), { method: 'GET' });
    await expectOk(res, `download ${artifactUri}`);
    return Buffer.from(await res.arrayBuffer());
  }

  // ---- model registry ------------------------------------------------------

  async ensureRegisteredModel(name: string, description?: string): Promise<void> {
    try {
      await this.post('registered-models/create', { name, description });
    } catch (err) {
      if (!(err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
    }
  }

  async searchModelVersions(filter: string, maxResults = 100): Promise<T.ModelVersion[]> {
    const res = await this.get<{ model_versions?: T.ModelVersion[] }>('model-versions/search', { filter, max_results: String(maxResults) });
    return res.model_versions ?? [];
  }

  /** `modelId` links the version to an MLflow 3 logged model (source `models:/m-...`). */
  async createModelVersion(name: string, source: string, runId: string, tags: Record<string, string>, modelId?: string): Promise<T.ModelVersion> {
    const res = await this.post<{ model_version: T.ModelVersion }>('model-versions/create', {
      name,
      source,
      run_id: runId,
      tags: toKeyValues(tags),
      ...(modelId ? { model_id: modelId } : {}),
    });
    return res.model_version;
  }

  async getModelVersion(name: string, version: string): Promise<T.ModelVersion> {
    return (await this.get<{ model_version: T.ModelVersion }>('model-versions/get', { name, version })).model_version;
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.post('model-versions/set-tag', { name, version, key, value });
  }

  /** The version's description (Markdown in the MLflow UI). */
  async updateModelVersionDescription(name: string, version: string, description: string): Promise<void> {
    await this.post('model-versions/update', { name, version, description }, 'PATCH');
  }

  async updateRegisteredModelDescription(name: string, description: string): Promise<void> {
    await this.post('registered-models/update', { name, description }, 'PATCH');
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.post('registered-models/alias', { name, alias, version });
  }

  /** Removes an alias; a missing alias or model is already the wanted state. */
  async deleteAlias(name: string, alias: string): Promise<void> {
    try {
      await this.post('registered-models/alias', { name, alias }, 'DELETE');
    } catch (err) {
      if (!(err instanceof MlflowError && err.notFound)) throw err;
    }
  }

  /** The registered model with its aliases, or null when it does not exist. */
  async getRegisteredModel(name: string): Promise<T.RegisteredModel | null> {
    try {
      return (await this.get<{ registered_model: T.RegisteredModel }>('registered-models/get', { name })).registered_model;
    } catch (err) {
      if (err instanceof MlflowError && err.notFound) return null;
      throw err;
    }
  }

  /** Sets a tag on the registered model itself (not a version): the traffic plan of a progressive rollout lives there. */
  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.post('registered-models/set-tag', { name, key, value });
  }

  /** Removes a registered-model tag; a missing tag or model is already the wanted state. */
  async deleteRegisteredModelTag(name: string, key: string): Promise<void> {
    try {
      await this.post('registered-models/delete-tag', { name, key }, 'DELETE');
    } catch (err) {
      if (!(err instanceof MlflowError && err.notFound)) throw err;
    }
  }

  /** One tag of a registered model, or null when the model or the tag does not exist. */
  async registeredModelTag(name: string, key: string): Promise<string | null> {
    const model = await this.getRegisteredModel(name);
    return model ? (tagsOf(model)[key] ?? null) : null;
  }

  /** What a worker needs to fetch and verify one version (the candidate of a traffic plan), or null when it does not exist. */
  async resolveVersionRef(name: string, version: string): Promise<ModelRef | null> {
    try {
      return modelRefOf(await this.getModelVersion(name, version));
    } catch (err) {
      if (err instanceof MlflowError && err.notFound) return null;
      throw err;
    }
  }

  /** Every model version matching `filter` (all pages), newest version first. */
  async searchAllModelVersions(filter: string): Promise<T.ModelVersion[]> {
    const versions: T.ModelVersion[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.get<{ model_versions?: T.ModelVersion[]; next_page_token?: string }>('model-versions/search', {
        filter,
        max_results: '1000',
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      versions.push(...(res.model_versions ?? []));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return versions.sort((a, b) => Number(b.version) - Number(a.version));
  }

  /** The version behind an alias, or null when the model or alias does not exist. */
  async getModelVersionByAlias(name: string, alias: string): Promise<T.ModelVersion | null> {
    try {
      return (await this.get<{ model_version: T.ModelVersion }>('registered-models/alias', { name, alias })).model_version;
    } catch (err) {
      if (err instanceof MlflowError && (err.notFound || err.errorCode === 'INVALID_PARAMETER_VALUE')) return null;
      throw err;
    }
  }

  /** Every registered model with its aliases (all pages). */
  async searchRegisteredModels(): Promise<T.RegisteredModel[]> {
    const models: T.RegisteredModel[] = [];
    let pageToken: string | undefined;
    do {
      const res = await this.get<{ registered_models?: T.RegisteredModel[]; next_page_token?: string }>('registered-models/search', {
        max_results: '1000',
        ...(pageToken ? { page_token: pageToken } : {}),
      });
      models.push(...(res.registered_models ?? []));
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
    return models;
  }

  /** Names of the registered models that have `alias` (for example every model with a champion). */
  async modelsWithAlias(alias: string): Promise<string[]> {
    return (await this.searchRegisteredModels()).filter((m) => (m.aliases ?? []).some((a) => a.alias === alias)).map((m) => m.name);
  }

  /** What an inference worker needs to fetch and verify the version behind an alias. */
  async resolveModelRef(name: string, alias: string): Promise<ModelRef | null> {
    const mv = await this.getModelVersionByAlias(name, alias);
    return mv ? modelRefOf(mv) : null;
  }
}

/** Builds the fleet's view of a registered version from the tags Lifecycle wrote at registration. */
export function modelRefOf(mv: T.ModelVersion): ModelRef {
  const tags = tagsOf(mv);
  const sha256 = tags[VERSION_TAGS.sha256];
  const artifactUri = tags[VERSION_TAGS.onnxUri];
  if (!sha256 || !artifactUri) {
    throw new MlflowError(`Model ${mv.name} v${mv.version} lacks ${VERSION_TAGS.sha256}/${VERSION_TAGS.onnxUri} tags`, 422, 'INVALID_STATE');
  }
  return { name: mv.name, version: mv.version, sha256, artifactUri };
}

export function tagsOf(entity: { tags?: T.KeyValue[] } | { data?: { tags?: T.KeyValue[] } }): Record<string, string> {
  const list = 'tags' in entity ? entity.tags : 'data' in entity ? entity.data?.tags : undefined;
  return Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));
}

/** A run's params as a record (MLflow stores every value as a string; Python's None as "None"). */
export function paramsOf(run: T.Run): Record<string, string> {
  return Object.fromEntries((run.data.params ?? []).map((p) => [p.key, p.value]));
}

function toKeyValues(record: Record<string, string>): T.KeyValue[] {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}
