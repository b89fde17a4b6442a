export type ModelLoadErrorCode =
  | 'MODEL_DOWNLOAD_FAILED'
  | 'MODEL_CHECKSUM_MISMATCH'
  | 'MODEL_INVALID'
  | 'GOLDEN_CHECK_FAILED';

/** Why a model could not be brought into service; the worker keeps serving its previous model. */
export class ModelLoadError extends Error {
  constructor(
    readonly code: ModelLoadErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModelLoadError';
  }
}
