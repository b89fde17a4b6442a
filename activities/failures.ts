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
 * How often a silent step heartbeats: a quarter of the activity's heartbeat timeout, at most 5 s,
 * so a busy machine never lets a live attempt look dead (a 5 s beat against a 5 s timeout once
 * cost the resume test a third training attempt).
 */
export function keepAliveMsFor(heartbeatTimeoutMs: number | undefined): number {
  return Math.min(5000, Math.max(250, (heartbeatTimeoutMs ?? 20_000) / 4));
}

/** Calls `beat` every `intervalMs` while `step` runs; the timer stops with the step, so a dead worker still misses its heartbeat. */
export async function keepBeating<T>(beat: () => void, intervalMs: number, step: () => Promise<T>): Promise<T> {
  const timer = setInterval(beat, intervalMs);
  try {
    return await step();
  } finally {
    clearInterval(timer);
  }
}

/**
 * Heartbeats the latest details now and then every few seconds while `fn`
 * runs, for steps whose only sign of life is a child process (git, DVC).
 */
export async function withKeepAlive<T>(fn: (beat: (details: unknown) => void) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let last: unknown = { phase: 'starting' };
  const beat = (details: unknown) => {
    last = details;
    ctx.heartbeat(details);
  };
  return keepBeating(() => ctx.heartbeat(last), keepAliveMsFor(ctx.info.heartbeatTimeoutMs), () => fn(beat));
}
