/** What one sender has stored. */
export interface Usage {
  readonly packets: number;
  readonly bytes: number;
}

/**
 * Per-sender totals of stored packets and record bytes, rebuilt at start from the index and the
 * record offsets, so quotas survive restarts without a file of their own. A packet counts against
 * its sender only: the sender chose to store it, and a count against recipients would let anyone
 * use up a stranger's quota. A note to self is one record and counts once.
 */
export class UsageLedger {
  private readonly totals = new Map<string, { packets: number; bytes: number }>();

  /** Adds one stored packet of `bytes` to its sender. */
  add(sender: string, bytes: number): void {
    const total = this.totals.get(sender);
    if (total) {
      total.packets++;
      total.bytes += bytes;
    } else this.totals.set(sender, { packets: 1, bytes });
  }

  /** The sender's totals (zero for a sender that stored nothing). */
  of(sender: string): Usage {
    return this.totals.get(sender) ?? { packets: 0, bytes: 0 };
  }
}
