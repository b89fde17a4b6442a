/**
 * Which requests go to the payload log. Decided by the API when it enqueues a
 * request (the mark travels on the queue entry); the worker that answers it
 * writes the entry, because it holds the input exactly as its model saw it.
 */
export interface PayloadSamplerOptions {
  /** Share of requests (0..1) sampled; 0 = none. */
  share: number;
  /** Models never logged (payloads are user data). */
  disabledModels: readonly string[];
  /** True while `model` is in a progressive rollout's shadow or canary step: all its traffic is logged then. */
  inTrafficStep?: (model: string) => boolean;
  /** Sampling draw in [0, 1); tests may pin it. */
  random?: () => number;
}

export class PayloadSampler {
  private readonly disabled: ReadonlySet<string>;

  constructor(private readonly opts: PayloadSamplerOptions) {
    this.disabled = new Set(opts.disabledModels);
  }

  /** `share` of the traffic, and all of it during a shadow or canary step (what the live analysis judges). */
  sampled(model: string): boolean {
    if (this.disabled.has(model)) return false;
    if (this.opts.inTrafficStep?.(model)) return true;
    return this.opts.share > 0 && (this.opts.random ?? Math.random)() < this.opts.share;
  }
}
