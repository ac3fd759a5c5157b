import pg from 'pg';
import { z } from 'zod';
import type { AppendResult, Packet } from '../../core/index.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { APPEND_BATCH } from './pg-append.js';

/** Packets one statement stores at most, and the most bytes of packets it carries. */
export const MAX_BATCH_PACKETS = 256;
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** A packet to store, with its JSON text and server time. */
export interface BatchItem {
  readonly packet: Packet;
  readonly json: string;
  readonly serverTime: number;
}

/** A send waiting for the statement that stores it. */
interface Pending extends BatchItem {
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/** A row of APPEND_BATCH, checked before anything is acknowledged with it. */
const rowSchema = z.object({
  n: z.coerce.number().int().min(1),
  pos: z.coerce.number().int().min(0),
  seq_from: z.number().int().min(1),
  seq_to: z.number().int().min(1),
  first_contact: z.boolean(),
  two_way: z.boolean(),
  delivered: z.number().int().min(0),
});

/**
 * Stores a batch in one statement (APPEND_BATCH); resolves once it committed, to one answer per
 * item in order: the stored record, or undefined for an item the statement left out (its id is
 * stored already, or its sender is at its quota). Rejects when the statement failed (rolled back).
 */
export async function storeBatch(
  pool: pg.Pool,
  batch: readonly BatchItem[],
  [quotaPackets, quotaBytes]: readonly [number, number],
): Promise<(AppendResult | undefined)[]> {
  const result = await pool.query<Record<string, unknown>>({
    name: 'metachat-append-batch',
    text: APPEND_BATCH,
    values: [
      batch.map((p) => p.packet.id),
      batch.map((p) => p.packet.from),
      batch.map((p) => p.packet.to),
      batch.map((p) => p.serverTime),
      batch.map((p) => p.json),
      quotaPackets,
      quotaBytes,
    ],
  });
  const answers: (AppendResult | undefined)[] = batch.map(() => undefined);
  for (const raw of result.rows) {
    const parsed = rowSchema.safeParse(raw);
    const item = parsed.success ? batch[parsed.data.n - 1] : undefined;
    if (!parsed.success || !item)
      throw new StoreCorruptError('packets', 'a stored batch row does not match its schema');
    const row = parsed.data;
    const { packet, serverTime } = item;
    const record = { pos: row.pos, serverTime, seqFrom: row.seq_from, seqTo: row.seq_to, packet };
    answers[row.n - 1] =
      packet.from === packet.to
        ? { record, duplicate: false }
        : {
            record,
            duplicate: false,
            pair: {
              firstContact: row.first_contact,
              twoWay: row.two_way,
              delivered: row.delivered,
            },
          };
  }
  return answers;
}

/**
 * Group commit on PostgreSQL: the sends that arrive while a statement is under way (or within the
 * same turn of the event loop) are stored together by the next one, one round trip and one commit
 * for all of them, and each is acknowledged only once that commit returned. What the batch leaves
 * out (a resend of a stored packet, a sender at its quota) and every packet of a batch that
 * PostgreSQL refused whole (a quota crossed, an id stored meanwhile, a full disk) is answered by
 * `one`, packet by packet, so one packet never fails the others. A batch that got no answer at all
 * (the connection broke, the query timed out) fails each of its sends: the clients send again and
 * the packet id finds whatever was committed.
 */
export class PgGroupCommit {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly quota: readonly [number, number],
    private readonly one: (item: BatchItem) => Promise<AppendResult>,
  ) {}

  /** Resolves once the packet's commit returned (or `one` answered it). */
  append(item: BatchItem): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ ...item, resolve, reject });
      this.running ??= this.loop();
    });
  }

  private async loop(): Promise<void> {
    // The sends of this turn of the event loop join the first statement.
    try {
      await new Promise<void>((resolve) => setImmediate(resolve));
      while (this.queue.length > 0) await this.commit(this.take());
    } finally {
      // In the same turn as the last look at the queue: a send queued from now on starts a loop.
      this.running = undefined;
    }
  }

  /** The oldest queued sends, up to the batch's bounds (always at least one). */
  private take(): Pending[] {
    let bytes = 0;
    let count = 0;
    for (const pending of this.queue) {
      bytes += pending.json.length;
      if (count > 0 && (count >= MAX_BATCH_PACKETS || bytes > MAX_BATCH_BYTES)) break;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async commit(batch: readonly Pending[]): Promise<void> {
    // A resend of a packet queued in the same batch gets the first one's answer, as a duplicate.
    const leaders = new Map<
      string,
      { pending: Pending; outcome?: Promise<AppendResult> | undefined }
    >();
    const followers: Pending[] = [];
    for (const pending of batch) {
      if (leaders.has(pending.packet.id)) followers.push(pending);
      else leaders.set(pending.packet.id, { pending });
    }
    const firsts = [...leaders.values()];
    const outcomes = await this.store(firsts.map((leader) => leader.pending));
    firsts.forEach((leader, i) => {
      leader.outcome = outcomes[i];
      void leader.outcome?.then(leader.pending.resolve, leader.pending.reject);
    });
    for (const pending of followers) {
      void leaders
        .get(pending.packet.id)
        ?.outcome?.then(
          (result) => pending.resolve({ record: result.record, duplicate: true }),
          pending.reject,
        );
    }
    // The next batch waits for these answers, so a packet answered alone is not overtaken.
    await Promise.allSettled(outcomes);
  }

  /** One answer per packet, in order. */
  private async store(batch: readonly Pending[]): Promise<Promise<AppendResult>[]> {
    let answers: (AppendResult | undefined)[];
    try {
      answers = await storeBatch(this.pool, batch, this.quota);
    } catch (error) {
      // PostgreSQL refused the statement and rolled it back whole: each packet is tried alone.
      if (error instanceof pg.DatabaseError) return batch.map((item) => this.one(item));
      const failure = error instanceof Error ? error : new Error('no answer', { cause: error });
      return batch.map(() => Promise.reject(failure));
    }
    return batch.map((item, i) => {
      const answer = answers[i];
      return answer ? Promise.resolve(answer) : this.one(item);
    });
  }
}
