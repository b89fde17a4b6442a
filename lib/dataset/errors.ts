import { PermanentError } from '../lifecycle/errors';

/** A dataset reference that can never succeed (bad rev, not DVC-tracked, data never pushed): not worth retrying. */
export class DatasetError extends PermanentError {
  constructor(message: string, code = 'DATASET_INVALID') {
    super(message, code);
  }
}
