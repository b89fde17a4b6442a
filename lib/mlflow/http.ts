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

/** How to authenticate, as MLflow's own clients do: basic auth (the basic-auth app) or a bearer token. */
export type MlflowAuth = { username: string; password: string } | { token: string };

/**
 * Credentials from the environment variables MLflow's Python and Java clients read
 * (MLFLOW_TRACKING_USERNAME + MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN), so
 * every process authenticates the same way the `mlflow` CLI does without new settings.
 */
export function authFromEnv(env: NodeJS.ProcessEnv = process.env): MlflowAuth | undefined {
  const { MLFLOW_TRACKING_USERNAME: username, MLFLOW_TRACKING_PASSWORD: password, MLFLOW_TRACKING_TOKEN: token } = env;
  if (username && password !== undefined) return { username, password };
  if (token) return { token };
  return undefined;
}

export function authorizationHeader(auth: MlflowAuth | undefined): Record<string, string> {
  if (!auth) return {};
  if ('token' in auth) return { authorization: `Bearer ${auth.token}` };
  return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
}

const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE']);

export interface MlflowHttpOptions {
  base: string;
  fetchImpl: typeof fetch;
  timeoutMs: number;
  auth?: MlflowAuth;
}

/** The HTTP transport of the MLflow REST API: auth header, timeouts, one retry on a stale socket, typed errors. */
export class MlflowHttp {
  private readonly headers: Record<string, string>;

  constructor(private readonly opts: MlflowHttpOptions) {
    this.headers = authorizationHeader(opts.auth);
  }

  async get<R>(endpoint: string, query: Record<string, string>): Promise<R> {
    const qs = new URLSearchParams(query).toString();
    return this.call<R>(`${this.opts.base}/api/2.0/mlflow/${endpoint}?${qs}`, { method: 'GET' });
  }

  async post<R>(endpoint: string, body: unknown, method: 'POST' | 'PATCH' | 'DELETE' = 'POST'): Promise<R> {
    return this.call<R>(`${this.opts.base}/api/2.0/mlflow/${endpoint}`, {
      method,
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
  }

  async call<R>(url: string, init: RequestInit): Promise<R> {
    const res = await this.request(url, init);
    await expectOk(res, `${init.method ?? 'GET'} ${url.replace(this.opts.base, '')}`);
    const text = await res.text();
    return (text ? JSON.parse(text) : {}) as R;
  }

  async request(url: string, init: RequestInit, attempt = 1): Promise<Response> {
    const headers = { ...(init.headers as Record<string, string> | undefined), ...this.headers };
    try {
      return await this.opts.fetchImpl(url, { ...init, headers, signal: AbortSignal.timeout(this.opts.timeoutMs) });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      // MLflow's server (uvicorn) closes idle keep-alive connections after a few seconds; a request
      // sent on such a pooled socket fails before the server sees it. One fresh attempt fixes that.
      if (attempt === 1 && cause?.code !== undefined && STALE_SOCKET_CODES.has(cause.code)) return this.request(url, init, 2);
      const detail = cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : '';
      throw new MlflowError(`MLflow unreachable at ${this.opts.base}: ${(err as Error).message}${detail}`, 503, 'UNAVAILABLE');
    }
  }
}

export async function expectOk(res: Response, what: string): Promise<void> {
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
  if (res.status === 401 || res.status === 403) errorCode ??= res.status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED';
  throw new MlflowError(`MLflow ${what} failed (${res.status}${errorCode ? ` ${errorCode}` : ''}): ${message}`, res.status, errorCode);
}
