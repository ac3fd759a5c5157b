import type { Logger } from 'pino';

/** How often repeated refusals are summed up in one line. */
const SUMMARY_INTERVAL_MS = 10_000;

/**
 * Logs refusals (failed logins, refused or closed connections) without letting a flood of them
 * flood the log: the first of each kind in an interval is logged at once, the rest are counted and
 * reported as one `refusals` line per interval. Only event names and codes: never an identifier,
 * an address or a proof.
 */
export class RefusalLog {
  private readonly counts = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    intervalMs = SUMMARY_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => {
      this.summarize();
    }, intervalMs);
    this.timer.unref();
  }

  /** Notes one refusal: `event` says what was refused, `code` why. */
  note(event: string, code: string, level: 'info' | 'warn' = 'info'): void {
    const key = `${event}:${code}`;
    const count = this.counts.get(key);
    if (count === undefined) {
      this.counts.set(key, 0);
      this.logger[level]({ event, code }, 'refused');
      return;
    }
    this.counts.set(key, count + 1);
  }

  /** Logs what was counted and not logged yet; stops the timer. */
  close(): void {
    clearInterval(this.timer);
    this.summarize();
  }

  private summarize(): void {
    const repeated: Record<string, number> = {};
    let any = false;
    for (const [key, count] of this.counts) {
      if (count > 0) {
        repeated[key] = count;
        any = true;
      }
    }
    this.counts.clear();
    if (any) this.logger.info({ event: 'refusals', repeated }, 'repeated refusals');
  }
}
