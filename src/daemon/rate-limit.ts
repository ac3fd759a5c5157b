/** A token bucket: `capacity` events at once, refilled at `perSecond`; bounds what one socket can ask. */
export class TokenBucket {
  private tokens: number;
  private updated: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.updated = now();
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(
      this.capacity,
      this.tokens + ((now - this.updated) / 1000) * this.perSecond,
    );
    this.updated = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Counts failures per key in a sliding window and locks the key once it reaches the limit, so a
 * password cannot be guessed online faster than `limit` tries per window. With `maxKeys`, memory is
 * bounded by forgetting the least recently failed key first: only for keys whose lock protects
 * nothing (unregistered identifiers, addresses). Without it, nothing is forgotten before its window
 * ends, so no flood of other keys can lift a lock.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = Number.POSITIVE_INFINITY,
  ) {}

  /** Milliseconds until the key may try again; 0 when it may try now. */
  retryAfter(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.limit) return 0;
    return Math.max(0, (recent[0] ?? 0) + this.windowMs - this.now());
  }

  /** Records one failure of the key. */
  fail(key: string): void {
    const recent = this.recent(key);
    recent.push(this.now());
    if (recent.length > this.limit) recent.shift();
    this.failures.delete(key);
    this.failures.set(key, recent);
    if (this.failures.size > this.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  /** Takes back the key's latest failure (an attempt counted in advance that then succeeded). */
  forgiveLast(key: string): void {
    const recent = this.failures.get(key);
    recent?.pop();
    if (recent?.length === 0) this.failures.delete(key);
  }

  /** Forgets the key's failures. */
  reset(key: string): void {
    this.failures.delete(key);
  }

  /** Keys remembered now. */
  get size(): number {
    return this.failures.size;
  }

  private recent(key: string): number[] {
    const cutoff = this.now() - this.windowMs;
    const recent = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (recent.length === 0) this.failures.delete(key);
    return recent;
  }
}
