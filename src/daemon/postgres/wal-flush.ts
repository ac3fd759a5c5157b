import type pg from 'pg';

/**
 * Makes every commit visible so far durable: when PostgreSQL's WAL is not flushed up to where it is
 * written, a transactional logical message (no table, no lock, no row) is committed synchronously,
 * and its commit flushes the WAL up to its own record, so every commit before it too (the WAL is
 * one sequence). With nothing left to flush it writes nothing and costs one round trip. Where the
 * role or database sets `synchronous_commit` off, this transaction alone sets it to `local`:
 * otherwise its commit would not wait either and nothing would be durable when answered.
 */
const FLUSH = `
SELECT CASE WHEN pg_current_wal_flush_lsn() < pg_current_wal_insert_lsn()
  THEN pg_logical_emit_message(true, 'metachat-flush', '') END AS flushed,
  CASE WHEN current_setting('synchronous_commit') = 'off'
  THEN set_config('synchronous_commit', 'local', true) END AS waits`;

/**
 * The wait for durability of the statements that commit without waiting for the WAL flush (the
 * append batch, `pg-append.ts`): `flush()` resolves once every commit visible before the call is on
 * disk. Calls made while a flush is under way share the next one (which starts when it ends), so a
 * burst of batches costs one or two flushes, not one each.
 */
export class WalFlush {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  /** Resolves once a flush started after this call returned; rejects as that flush failed. */
  flush(): Promise<void> {
    const running = this.running;
    if (running === undefined) return this.begin();
    // The flush under way may have read the WAL's position before the caller's commit: wait for
    // the next one.
    this.queued ??= running.then(
      () => this.next(),
      () => this.next(),
    );
    return this.queued;
  }

  private next(): Promise<void> {
    this.queued = undefined;
    return this.begin();
  }

  private begin(): Promise<void> {
    const run = this.pool.query(FLUSH).then(() => undefined);
    this.running = run;
    const settle = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(settle, settle);
    return run;
  }
}
