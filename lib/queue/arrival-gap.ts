/**
 * The mean time between requests a consumer has been receiving, over the last
 * complete window (default one second). Infinity until a window with requests
 * has been seen, and after a window without any: an idle queue is never
 * expected to deliver more.
 */
export class ArrivalGap {
  private windowStart: number;
  private count = 0;
  private gapMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly windowMs = 1000,
    private readonly now: () => number = Date.now,
  ) {
    this.windowStart = now();
  }

  /** Counts `n` received requests (0 after an idle read, which still closes windows). */
  record(n: number): void {
    this.count += n;
    const t = this.now();
    const elapsed = t - this.windowStart;
    if (elapsed < this.windowMs) return;
    this.gapMs = this.count > 0 ? elapsed / this.count : Number.POSITIVE_INFINITY;
    this.windowStart = t;
    this.count = 0;
  }

  get meanMs(): number {
    return this.gapMs;
  }
}
