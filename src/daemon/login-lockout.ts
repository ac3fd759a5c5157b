import type { RelayLimits } from './config.js';
import { FailureLimiter } from './rate-limit.js';

/**
 * Failed logins per identifier, so a password cannot be guessed online faster than the limit: on
 * one daemon in memory, with several daemons in PostgreSQL, where every daemon counts the same.
 */
export interface LoginLockout {
  /**
   * Counts one attempt on the identifier in advance (a success takes it back); resolves to 0 when
   * counted, or to the milliseconds until it may try again (then nothing was counted). Check and
   * count are one step: concurrent guesses cannot slip past the limit.
   */
  attempt(identifier: string, registered: boolean): Promise<number>;
  /** The identifier logged in: its failures are forgotten. */
  succeeded(identifier: string): Promise<void>;
  /** Stops any background work. */
  close(): void;
}

/**
 * The lockout of one daemon alone: registered identifiers in a table nothing evicts, unknown ones in
 * a bounded one (a flood of unknown names cannot push a registered one out).
 */
export class LocalLoginLockout implements LoginLockout {
  private readonly registered: FailureLimiter;
  private readonly unknown: FailureLimiter;

  constructor(limits: RelayLimits, now: () => number = Date.now) {
    this.registered = new FailureLimiter(
      limits.loginFailuresPerIdentifier,
      limits.loginWindowMs,
      now,
    );
    this.unknown = new FailureLimiter(
      limits.loginFailuresPerIdentifier,
      limits.loginWindowMs,
      now,
      limits.maxTrackedUnknownIdentifiers,
    );
  }

  attempt(identifier: string, registered: boolean): Promise<number> {
    const limiter = registered ? this.registered : this.unknown;
    const wait = limiter.retryAfter(identifier);
    if (wait === 0) limiter.fail(identifier);
    return Promise.resolve(wait);
  }

  succeeded(identifier: string): Promise<void> {
    this.registered.reset(identifier);
    return Promise.resolve();
  }

  close(): void {
    // Nothing runs in the background.
  }
}
