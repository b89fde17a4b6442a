/**
 * An error a retry cannot fix (bad input, unknown version, checksum mismatch):
 * activities turn it into a non-retryable Temporal failure with its `code`.
 */
export class PermanentError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}
