/**
 * Fire-and-forget work kept off a caller's path (a reply is never held up by
 * it, nor fails because of it), which a graceful shutdown and tests can still
 * wait for. Each piece of work gets its own error handler: the work's failure
 * is counted or logged there, never thrown at the caller.
 */
export class BackgroundWork {
  private readonly pending = new Set<Promise<unknown>>();

  run(work: Promise<unknown>, onError: (err: unknown) => void): void {
    const p = work.catch(onError);
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Resolves when every piece of work started so far (and any started meanwhile) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}
