import type { Logger } from 'pino';
import type { LoadedModel } from './model-loader';

interface Entry {
  model: LoadedModel;
  users: number;
  retired: boolean;
}

/**
 * The model a worker serves, swapped atomically: a batch takes the current
 * model for its whole run (`use`), a swap only changes what the *next* batch
 * gets, and a replaced model's session is released once its last batch is done.
 */
export class ModelSlot {
  private current: Entry | null = null;
  private waiting: Array<() => void> = [];

  constructor(private readonly logger: Logger) {}

  get model(): LoadedModel | null {
    return this.current?.model ?? null;
  }

  /** Installs `model`; returns the one it replaced (already scheduled for release). */
  swap(model: LoadedModel): LoadedModel | null {
    const previous = this.current;
    this.current = { model, users: 0, retired: false };
    if (previous) this.retire(previous);
    for (const wake of this.waiting.splice(0)) wake();
    return previous?.model ?? null;
  }

  /** Runs `fn` with the current model, which stays alive until `fn` settles even if swapped meanwhile. */
  async use<T>(fn: (model: LoadedModel) => Promise<T>): Promise<T> {
    const entry = this.current;
    if (!entry) throw new Error('no model loaded');
    entry.users++;
    try {
      return await fn(entry.model);
    } finally {
      entry.users--;
      if (entry.retired && entry.users === 0) this.release(entry);
    }
  }

  /** Resolves once a model is installed (immediately if one is), or when `signal` aborts. */
  async ready(signal?: AbortSignal): Promise<void> {
    if (this.current || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        signal?.removeEventListener('abort', done);
        this.waiting = this.waiting.filter((w) => w !== done);
        resolve();
      };
      this.waiting.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Releases the served model (shutdown); in-flight users keep it until they finish. */
  clear(): void {
    if (this.current) this.retire(this.current);
    this.current = null;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (entry.users === 0) this.release(entry);
  }

  private release(entry: Entry): void {
    entry.model.runner.release().catch((err: Error) => this.logger.warn({ err, version: entry.model.ref.version }, 'releasing a session failed'));
  }
}
