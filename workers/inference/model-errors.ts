import type { ModelLoadErrorCode } from '../../lib/fleet/protocol';

/** Why a model could not be brought into service; the worker keeps serving its previous model. Its code reaches the rollout in the worker's status. */
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
