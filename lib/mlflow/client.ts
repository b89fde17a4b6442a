import type { ModelRef } from '../fleet/protocol';
import type * as T from './types';

export type * from './types';

/** An MLflow REST error, keeping MLflow's own `error_code` (e.g. RESOURCE_DOES_NOT_EXIST). */
export class MlflowError extends Error {
  readonly code = 'MLFLOW_ERROR';
  constructor(
    message: string,
    readonly status: number,
    readonly errorCode: string | undefined,
  ) {
    super(message);
  }
  get notFound(): boolean {
    return this.status === 404 || this.errorCode === 'RESOURCE_DOES_NOT_EXIST';
  }
  /** 5xx and 429 are worth retrying; 4xx are the caller's fault. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429;
  }
}

/** Model-version tags Lifecycle writes; readers (rollout, workers) rely on them. */
export const VERSION_TAGS = {
  sha256: 'lifecycle.sha256',
  onnxUri: 'lifecycle.onnx_uri',
  runId: 'lifecycle.run_id',
  datasetDigest: 'lifecycle.dataset_digest',
  metric: 'lifecycle.gate.metric',
} as const;

export interface MlflowClientOptions {
  trackingUri: string;
  fetchImpl?: typeof fetch;
  /** Per-call timeout; MLflow calls are small, so anything slower is a fault. */
  timeoutMs?: number;
}

/**
 * A thin typed client for the MLflow 2.0 REST API (tracking, registry with
 * aliases, proxied artifacts). MLflow ships no maintained JS client, so the
 * handful of calls Lifecycle needs are written here.
 */
export class MlflowClient {
  private readonly base: string;
  private readonly fetchImpl: typeof fetch;
  private readonly timeoutMs: number;

  constructor(opts: MlflowClientOptions) {
    this.base = opts.trackingUri.replace(/\/+$/, '');
    this.fetchImpl = opts.fetchImpl ?? fetch;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
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
    const res = await this.request(this.artifactUrl(artifactUri), { method: 'PUT', body, headers: { 'content-type': contentType } });
    await expectOk(res, `upload ${artifactUri}`);
  }

  async downloadArtifact(artifactUri: string): Promise<Buffer> {
    const res = await this.request(this.artifactUrl(artifactUri), { method: 'GET' });
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

  async createModelVersion(name: string, source: string, runId: string, tags: Record<string, string>): Promise<T.ModelVersion> {
    const res = await this.post<{ model_version: T.ModelVersion }>('model-versions/create', {
      name,
      source,
      run_id: runId,
      tags: toKeyValues(tags),
    });
    return res.model_version;
  }

  async getModelVersion(name: string, version: string): Promise<T.ModelVersion> {
    return (await this.get<{ model_version: T.ModelVersion }>('model-versions/get', { name, version })).model_version;
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.post('model-versions/set-tag', { name, version, key, value });
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    await this.post('registered-models/alias', { name, alias, version });
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

  // ---- transport -----------------------------------------------------------

  private async get<R>(endpoint: string, query: Record<string, string>): Promise<R> {
    const qs = new URLSearchParams(query).toString();
    return this.call<R>(`${this.base}/api/2.0/mlflow/${endpoint}?${qs}`, { method: 'GET' });
  }

  private async post<R>(endpoint: string, body: unknown): Promise<R> {
    return this.call<R>(`${this.base}/api/2.0/mlflow/${endpoint}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  }

  private async call<R>(url: string, init: RequestInit): Promise<R> {
    const res = await this.request(url, init);
    await expectOk(res, `${init.method ?? 'GET'} ${url.replace(this.base, '')}`);
    return (await res.json()) as R;
  }

  private async request(url: string, init: RequestInit, attempt = 1): Promise<Response> {
    try {
      return await this.fetchImpl(url, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      // MLflow's server (uvicorn) closes idle keep-alive connections after a few seconds; a request
      // sent on such a pooled socket fails before the server sees it. One fresh attempt fixes that.
      if (attempt === 1 && cause?.code !== undefined && STALE_SOCKET_CODES.has(cause.code)) return this.request(url, init, 2);
      const detail = cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : '';
      throw new MlflowError(`MLflow unreachable at ${this.base}: ${(err as Error).message}${detail}`, 503, 'UNAVAILABLE');
    }
  }
}

const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

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

function toKeyValues(record: Record<string, string>): T.KeyValue[] {
  return Object.entries(record).map(([key, value]) => ({ key, value }));
}

async function expectOk(res: Response, what: string): Promise<void> {
  if (res.ok) return;
  const text = await res.text().catch(() => '');
  let errorCode: string | undefined;
  let message = text.slice(0, 500);
  try {
    const body = JSON.parse(text) as { error_code?: string; message?: string };
    errorCode = body.error_code;
    message = body.message ?? message;
  } catch {
    /* not JSON: keep the raw text */
  }
  throw new MlflowError(`MLflow ${what} failed (${res.status}${errorCode ? ` ${errorCode}` : ''}): ${message}`, res.status, errorCode);
}
