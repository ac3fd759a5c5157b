/**
 * A token bucket the JSON-RPC mode takes from before each request it sends the relay for a `send`
 * (a key lookup, a packet): a burst of sends from a script stays under the relay's per-socket event
 * limit (docs/protocol.md 10.3: 200 a second by default), so it is neither refused with
 * RATE_LIMITED nor, through retries, reordered. Turns are served first come, first served.
 */
export class SendPacer {
  private tokens: number;
  private last = Date.now();
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Resolves once this caller may send one request. */
  take(): Promise<void> {
    const mine = this.turn.then(() => this.wait());
    this.turn = mine;
    return mine;
  }

  private async wait(): Promise<void> {
    for (;;) {
      const now = Date.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.perSecond) / 1000);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      const ms = Math.ceil(((1 - this.tokens) * 1000) / this.perSecond);
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
  }
}
