import pg from 'pg';
import { z } from 'zod';
import type { AppendResult, Packet } from '../../core/index.js';
import { StoreCorruptError } from '../store-corrupt-error.js';
import { APPEND_BATCH, ROW_PACKET, ROW_STREAM } from './pg-append.js';

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
const rowSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal(ROW_PACKET),
    id: z.string(),
    pos: z.coerce.number().int().min(0),
    seq_from: z.number().int().min(1),
    seq_to: z.number().int().min(1),
    first_contact: z.boolean(),
    two_way: z.boolean(),
  }),
  z.object({
    kind: z.literal(ROW_STREAM),
    id: z.string(),
    delivered: z.number().int().min(0),
  }),
]);

/**
 * Stores a batch in one statement (APPEND_BATCH); resolves once it committed, to one answer per
 * item in order: the stored record, or undefined for an item the statement left out (its id is
 * stored already, or its sender is at its quota). Rejects when the statement failed (rolled back).
 * The ids of a batch are unique. The commit did not wait for the WAL: acknowledge an answer only
 * after a `WalFlush.flush()` called once this resolved.
 */
export async function storeBatch(
  pool: pg.Pool | pg.PoolClient,
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
  const index = new Map(batch.map((item, i) => [item.packet.id, i]));
  const delivered = new Map<string, number>();
  const stored: { i: number; row: StoredRow }[] = [];
  for (const raw of result.rows) {
    const parsed = rowSchema.safeParse(raw);
    if (!parsed.success)
      throw new StoreCorruptError('packets', 'a stored batch row does not match its schema');
    const row = parsed.data;
    if (row.kind === ROW_STREAM) {
      delivered.set(row.id, row.delivered);
      continue;
    }
    const i = index.get(row.id);
    if (i === undefined)
      throw new StoreCorruptError('packets', 'a stored batch row names a packet not in the batch');
    stored.push({ i, row });
  }
  const answers: (AppendResult | undefined)[] = batch.map(() => undefined);
  for (const { i, row } of stored) {
    const { packet, serverTime } = batch[i] as BatchItem;
    const record = { pos: row.pos, serverTime, seqFrom: row.seq_from, seqTo: row.seq_to, packet };
    if (packet.from === packet.to) {
      answers[i] = { record, duplicate: false };
      continue;
    }
    const cursor = delivered.get(packet.to);
    if (cursor === undefined)
      throw new StoreCorruptError('packets', "a stored packet's recipient stream has no row");
    answers[i] = {
      record,
      duplicate: false,
      pair: { firstContact: row.first_contact, twoWay: row.two_way, delivered: cursor },
    };
  }
  return answers;
}

type StoredRow = Extract<z.infer<typeof rowSchema>, { kind: typeof ROW_PACKET }>;

/**
 * Group commit on PostgreSQL: the sends that arrive while a statement is under way (or within the
 * same turn of the event loop) are stored together by the next one, one round trip and one commit
 * for all of them. The statement commits without waiting for the WAL flush, so its stream row locks
 * are released as it returns and the next batch's statement starts at once (one statement at a
 * time, so seqs follow arrival order); each send is acknowledged only once `durable` (a WAL flush,
 * shared by the batches committed meanwhile) returned, so the wait for the disk of one batch
 * overlaps the work of the next. What the batch leaves out (a resend of a stored packet, a sender
 * at its quota) and every packet of a batch that PostgreSQL refused whole (a quota crossed, an id
 * stored meanwhile, a full disk) is answered by `one`, packet by packet, so one packet never fails
 * the others. A batch that got no answer at all (the connection broke, the query or the flush timed
 * out) fails each of its sends: the clients send again and the packet id finds whatever was
 * committed.
 */
export class PgGroupCommit {
  private queue: Pending[] = [];
  private running: Promise<void> | undefined;
  /** The answers of the packets in a batch not yet committed: a resend meanwhile waits for its answer. */
  private readonly inFlight = new Map<string, Promise<AppendResult>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly quota: readonly [number, number],
    private readonly one: (item: BatchItem) => Promise<AppendResult>,
    private readonly durable: () => Promise<void>,
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

  /** Resolves once the next batch may start: its statement would queue behind this batch's locks. */
  private async commit(batch: readonly Pending[]): Promise<void> {
    // A resend of a packet in this batch, or in the batch still committing, gets the first one's
    // answer as a duplicate (it would otherwise fail this batch's statement on the unique index).
    const leaders = new Map<string, Pending>();
    const followers: { pending: Pending; first?: Promise<AppendResult> | undefined }[] = [];
    for (const pending of batch) {
      const id = pending.packet.id;
      const first = this.inFlight.get(id);
      if (leaders.has(id) || first) followers.push({ pending, first });
      else leaders.set(id, pending);
    }
    const firsts = [...leaders.values()];
    const { outcomes, ready } = await this.store(firsts);
    firsts.forEach((pending, i) => {
      const outcome = outcomes[i] as Promise<AppendResult>;
      const id = pending.packet.id;
      this.inFlight.set(id, outcome);
      const settle = () => {
        if (this.inFlight.get(id) === outcome) this.inFlight.delete(id);
      };
      outcome.then(settle, settle);
      void outcome.then(pending.resolve, pending.reject);
    });
    for (const { pending, first = this.inFlight.get(pending.packet.id) } of followers) {
      if (!first) {
        pending.reject(new Error('a resend lost the answer of its first send'));
        continue;
      }
      void first.then(
        (result) => pending.resolve({ record: result.record, duplicate: true }),
        pending.reject,
      );
    }
    await ready;
  }

  /**
   * One answer per packet, in order, and when the next batch may start: at once when the statement
   * answered every packet (it committed, its locks are released; the answers wait for the WAL
   * flush), or, when a packet is answered alone, once every answer is in (so such a packet is not
   * overtaken).
   */
  private async store(
    batch: readonly Pending[],
  ): Promise<{ outcomes: Promise<AppendResult>[]; ready: Promise<unknown> }> {
    const alone = (answers: readonly (AppendResult | undefined)[], after: Promise<unknown>) => {
      const outcomes = batch.map((item, i) => {
        const answer = answers[i];
        return after.then(() => answer ?? this.one(item));
      });
      return { outcomes, ready: Promise.allSettled(outcomes) };
    };
    let answers: (AppendResult | undefined)[];
    try {
      answers = await storeBatch(this.pool, batch, this.quota);
    } catch (error) {
      // PostgreSQL refused the statement and rolled it back whole: each packet is tried alone.
      if (error instanceof pg.DatabaseError) return alone([], Promise.resolve());
      // No answer at all (the connection broke, the query timed out): every send fails.
      const failure = error instanceof Error ? error : new Error('no answer', { cause: error });
      const outcomes = batch.map(() => Promise.reject(failure));
      return { outcomes, ready: Promise.allSettled(outcomes) };
    }
    // Committed but not yet durable: nothing is acknowledged before the WAL flush that covers it.
    const durable = this.durable();
    if (answers.some((answer) => answer === undefined)) return alone(answers, durable);
    const outcomes = batch.map((_, i) => durable.then(() => answers[i] as AppendResult));
    return { outcomes, ready: Promise.resolve() };
  }
}
