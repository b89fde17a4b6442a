import type { InferenceFailureCode } from './messages';

/** Typed queue failures; the API maps their `code` to HTTP statuses. */

/** The backlog reached MAX_QUEUE_LENGTH: shed load instead of queueing work that would time out. */
export class QueueFullError extends Error {
  readonly code = 'QUEUE_FULL';
  constructor(
    readonly backlog: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`The inference queue is full (${backlog} waiting); retry in ${retryAfterSeconds}s`);
    this.name = 'QueueFullError';
  }
}

/** Redis is unreachable (or was lost with the request in it): the request was not, or may not have been, processed. */
export class QueueUnavailableError extends Error {
  readonly code = 'QUEUE_UNAVAILABLE';
  constructor(
    readonly retryAfterSeconds: number,
    detail: string,
  ) {
    super(`The inference queue is unavailable (${detail}); retry in ${retryAfterSeconds}s`);
    this.name = 'QueueUnavailableError';
  }
}

/** No reply before the request's deadline. Workers skip the entry if they see it later. */
export class DeadlineExceededError extends Error {
  readonly code = 'DEADLINE_EXCEEDED';
  constructor(readonly timeoutMs: number) {
    super(`No inference result within ${timeoutMs} ms`);
    this.name = 'DeadlineExceededError';
  }
}

/** The client is shutting down (or not started) and takes no more work. */
export class QueueClosedError extends Error {
  readonly code = 'QUEUE_CLOSED';
  constructor() {
    super('The inference queue client is closed');
    this.name = 'QueueClosedError';
  }
}

/** A worker answered with an error instead of predictions. */
export class InferenceFailedError extends Error {
  constructor(
    readonly code: InferenceFailureCode,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceFailedError';
  }
}
