import { ApplicationFailure } from '@temporalio/workflow';
import { InvalidInputError } from '../lib/lifecycle/input';

/** Reads a workflow's input, failing the workflow (not its task) with the bad fields named. */
export function validInput<T>(read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InvalidInputError) throw ApplicationFailure.nonRetryable(err.message, err.code);
    throw err;
  }
}

/** The innermost message of a Temporal failure chain (ActivityFailure -> ApplicationFailure -> ...). */
export function failureMessage(err: unknown): string {
  let e: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && (e as { cause?: unknown }).cause instanceof Error) {
    e = (e as { cause: Error }).cause;
    message = (e as Error).message || message;
  }
  return message;
}
