// Per-group send rate limit (rule MSG-5): a token bucket of `perSecond` tokens, refilled
// continuously. Per node: behind a load balancer each node enforces its own bucket.
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one token for `key`; false when the bucket is empty. */
  take(key: string): boolean {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.perSecond, at: t };
    b.tokens = Math.min(this.perSecond, b.tokens + ((t - b.at) / 1000) * this.perSecond);
    b.at = t;
    if (this.buckets.size > 100_000) this.prune(t);
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    return true;
  }

  /** Returns a token taken for a request that then stored nothing (MSG-15: a rejected send changes no bucket). */
  giveBack(key: string): void {
    const b = this.buckets.get(key);
    if (b) b.tokens = Math.min(this.perSecond, b.tokens + 1);
  }

  /** How long until `key`'s bucket holds a whole token again (0 when it does): RetryInfo of rule ERR-5. */
  retryDelayMs(key: string): number {
    const b = this.buckets.get(key);
    if (!b) return 0;
    const tokens = Math.min(this.perSecond, b.tokens + ((this.now() - b.at) / 1000) * this.perSecond);
    return tokens >= 1 ? 0 : ((1 - tokens) / this.perSecond) * 1000;
  }

  /** Forgets full buckets, so memory follows active groups only. */
  private prune(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.perSecond >= this.perSecond) this.buckets.delete(k);
    }
  }
}
