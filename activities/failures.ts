import { ApplicationFailure, Context } from '@temporalio/activity';
import { MlflowError } from '../lib/mlflow/client';
import { PermanentError } from '../lib/lifecycle/errors';

/**
 * Maps errors that retrying cannot fix to non-retryable failures (bad input,
 * unknown version, checksum mismatch, an MLflow 4xx); everything else (network,
 * MLflow 5xx or unreachable, a killed process) is retried with backoff.
 */
export async function guard<T>(fn: () => Promise<T>, permanent: (err: unknown) => string | null = () => null): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof PermanentError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    if (err instanceof MlflowError && !err.transient) throw ApplicationFailure.nonRetryable(err.message, err.errorCode ?? err.code);
    const code = permanent(err);
    if (code) throw ApplicationFailure.nonRetryable((err as Error).message, code);
    throw err;
  }
}

/**
 * Heartbeats the latest details now and then every few seconds while `fn`
 * runs, for steps whose only sign of life is a child process (git, DVC): the
 * timer stops with the step, so a dead worker still misses its heartbeat.
 */
export async function withKeepAlive<T>(fn: (beat: (details: unknown) => void) => Promise<T>, intervalMs = 5000): Promise<T> {
  const ctx = Context.current();
  let last: unknown = { phase: 'starting' };
  const beat = (details: unknown) => {
    last = details;
    ctx.heartbeat(details);
  };
  const timer = setInterval(() => ctx.heartbeat(last), intervalMs);
  try {
    return await fn(beat);
  } finally {
    clearInterval(timer);
  }
}
