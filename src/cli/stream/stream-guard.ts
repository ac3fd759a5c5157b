/**
 * Client-side bookkeeping of the relay's stream: every user's stream is numbered 1, 2, 3, … without
 * gaps (docs/protocol.md 10.1), and packet ids are unique, so a device that remembers what it saw can
 * tell when the relay withholds, reorders or replays packets. Signatures cannot catch these: each
 * packet is authentic, only its place is a lie. Pure: no I/O, the caller feeds it and persists it.
 */

/** One failure of the relay's stream that the client noticed, each with its own code. */
export type StreamIssueCode =
  | 'STREAM_GAP'
  | 'STREAM_REORDERED'
  | 'PACKET_REPLAYED'
  | 'WRONG_CONVERSATION'
  | 'STREAM_JUMP'
  | 'TOO_MANY_PAGES'
  | 'PUSH_FLOOD';

/** What the client noticed, worded for the user; `missing` lists (some of) the withheld positions. */
export interface StreamIssue {
  readonly code: StreamIssueCode;
  readonly message: string;
  readonly seq?: number;
  readonly id?: string;
  readonly missing?: readonly number[];
}

/** The part of a stored packet (or group message) the guard looks at. */
export type StreamEntry =
  | {
      readonly seq: number;
      readonly packet: {
        readonly id: string;
        readonly from: string;
        readonly to: string;
        readonly sig: string;
      };
    }
  | {
      readonly seq: number;
      readonly groupMessage: {
        readonly id: string;
        readonly from: string;
        readonly group: string;
        readonly sig: string;
      };
    };

/** Id, parties and signature of an entry: a group message's `to` is its group id. */
function partsOf(entry: StreamEntry): { id: string; from: string; to: string; sig: string } {
  if ('packet' in entry) return entry.packet;
  const { id, from, group, sig } = entry.groupMessage;
  return { id, from, to: group, sig };
}

/**
 * What to do with one packet: `new` (verify it, then `accept` or `refuse` it; `issue` warns that it
 * came out of order), `duplicate` (the same packet at the same place again, as when a push and a page
 * overlap, or a push the next catch-up fetches anyway: skip it silently), `replayed` (never show it
 * as a new message, only the warning), or `jump` (a position far beyond what the relay's own pages
 * show: a lie about the stream, neither shown nor stored).
 */
export type StreamVerdict =
  | { readonly kind: 'new'; readonly issue?: StreamIssue }
  | { readonly kind: 'duplicate' }
  | { readonly kind: 'replayed'; readonly issue: StreamIssue }
  | { readonly kind: 'jump'; readonly issue: StreamIssue };

/** Where a packet came from: a `sync` page, a push, or the acknowledgement of this device's own send. */
export type StreamSource = 'page' | 'push' | 'own';

/** A remembered packet: its place in the stream and its id. Persisted in the profile. */
export type RememberedPacket = [seq: number, id: string];

/** How many packets a device remembers across sessions (and a guard keeps in memory). */
export const REMEMBERED_PACKETS = 500;

/**
 * The largest hole a page may open after the position before it. An honest `sync` page has no hole
 * at all (the stream is gapless); a smaller one is reported as withheld messages (STREAM_GAP), but a
 * relay that claims to have withheld more than this many is lying about positions (STREAM_JUMP), and
 * believing it would move this device's mark past every honest message to come.
 */
export const MAX_JUMP = 10_000;

/** How far below the settled mark a guard keeps positions in memory before forgetting them. */
const WINDOW = 10_000;

/** How many withheld positions an issue lists by number. */
const LISTED_MISSING = 20;

function short(id: string): string {
  return id.slice(0, 8);
}

function replayed(message: string, entry: StreamEntry): StreamVerdict {
  return {
    kind: 'replayed',
    issue: { code: 'PACKET_REPLAYED', message, seq: entry.seq, id: partsOf(entry).id },
  };
}

function jump(entry: StreamEntry, edge: number): StreamVerdict {
  return {
    kind: 'jump',
    issue: {
      code: 'STREAM_JUMP',
      message: `The relay claimed a packet at position ${entry.seq} of your stream, far beyond the end its own pages show (${edge}): a lie about the stream. It is not shown, and this device's place in the stream does not move.`,
      seq: entry.seq,
      id: partsOf(entry).id,
    },
  };
}

/** Where the guard starts: the device's persisted mark and the packets it remembers. */
export interface StreamGuardState {
  /** Every position up to here was seen (or reported missing) by this device: the profile's `seenUpTo`. */
  readonly seenUpTo: number;
  readonly remembered?: readonly RememberedPacket[] | undefined;
}

/**
 * Checks each packet the relay delivers against the stream seen so far. Usage: `beginSync` before a
 * `sync` from `seenUpTo`; `observe` every packet of its pages, every push (hold pushes that arrive
 * during the first sync until it ends, and catch up before a push beyond the next position) and
 * every acknowledgement of an own send; verify each `new` packet, then `accept` it (it verified) or
 * `refuse` it; `settle` once a sync has run to its end; persist `seenUpTo` and `remembered()`.
 * Only accepted packets move the mark, the remembered ids and the reorder checks: a forged packet
 * leaves no trace but its warning, so the genuine one at that place is still shown.
 */
export class StreamGuard {
  private readonly bySeq = new Map<number, { id: string; sig: string }>();
  private readonly seqOfId = new Map<string, number>();
  private readonly remembered = new Map<string, number>();
  /** Positions above the mark whose packet failed verification: reported already, not withheld. */
  private readonly refused = new Set<number>();
  /** Positions at or below this are never delivered again by an honest relay. */
  private floor: number;
  private mark: number;
  private top: number;
  /** The end of the stream as the relay's pages (and accepted packets) show it. */
  private edge: number;
  /** The last position of the current sync's pages that was not a jump. */
  private pageEdge: number;
  /** True once a sync ran to its end since the last `beginSync`. */
  private complete = true;
  private readonly lastOrdered: Record<'page' | 'push', number>;

  constructor(state: StreamGuardState) {
    this.floor = state.seenUpTo;
    this.mark = state.seenUpTo;
    this.top = state.seenUpTo;
    this.edge = state.seenUpTo;
    this.pageEdge = state.seenUpTo;
    this.lastOrdered = { page: state.seenUpTo, push: state.seenUpTo };
    for (const [seq, id] of state.remembered ?? []) this.remembered.set(id, seq);
  }

  /** Everything up to here was seen or reported: persist it, and sync after it. */
  get seenUpTo(): number {
    return this.mark;
  }

  /** The highest position accepted. */
  get highest(): number {
    return this.top;
  }

  /** A sync from `seenUpTo` starts: its pages must be in increasing order from there. */
  beginSync(): void {
    this.lastOrdered.page = this.mark;
    this.pageEdge = this.mark;
    this.complete = false;
  }

  /**
   * Checks one delivered packet; records nothing. A `new` verdict must be followed by `accept` or
   * `refuse` once its signature was checked. An own packet (signed here) is accepted at once.
   */
  observe(entry: StreamEntry, source: StreamSource): StreamVerdict {
    const { seq } = entry;
    const { id, sig } = partsOf(entry);
    const prior = this.bySeq.get(seq);
    if (prior !== undefined) {
      if (prior.id === id && prior.sig === sig) return { kind: 'duplicate' };
      return replayed(
        prior.id === id
          ? `The relay served message ${seq} of your stream twice, with different contents.`
          : `The relay put two different packets at position ${seq} of your stream; the second is not shown.`,
        entry,
      );
    }
    const earlier = this.seqOfId.get(id) ?? this.remembered.get(id);
    if (earlier !== undefined && earlier !== seq) {
      return replayed(
        `The relay replayed packet ${short(id)} (message ${earlier} of your stream) as message ${seq}; it is not shown again.`,
        entry,
      );
    }
    if (seq <= this.floor) {
      return replayed(
        `The relay delivered message ${seq} of your stream again, after this device had already read past it; it is not shown.`,
        entry,
      );
    }
    if (source === 'page') {
      if (seq > this.pageEdge + MAX_JUMP) return jump(entry, this.pageEdge);
      this.pageEdge = Math.max(this.pageEdge, seq);
      this.edge = Math.max(this.edge, seq);
    } else if (source === 'push' && seq > this.edge + 1) {
      // The caller caught up before this push: the relay's own pages end before it.
      return this.complete ? jump(entry, this.edge) : { kind: 'duplicate' };
    } else if (source === 'own' && seq > Math.max(this.edge, this.top) + MAX_JUMP) {
      return jump(entry, this.edge);
    }
    let issue: StreamIssue | undefined;
    if (source !== 'own' && seq < this.lastOrdered[source]) {
      issue = {
        code: 'STREAM_REORDERED',
        message: `The relay delivered message ${seq} of your stream after message ${this.lastOrdered[source]}: it was reordered or held back. Its sender's time is authentic.`,
        seq,
        id,
      };
    }
    if (source === 'own') this.accept(entry, source);
    return issue === undefined ? { kind: 'new' } : { kind: 'new', issue };
  }

  /** The packet of a `new` verdict verified: its place now counts. */
  accept(entry: StreamEntry, source: StreamSource): void {
    const { seq } = entry;
    const { id, sig } = partsOf(entry);
    if (this.bySeq.has(seq) || seq <= this.floor) return;
    this.bySeq.set(seq, { id, sig });
    this.seqOfId.set(id, seq);
    this.refused.delete(seq);
    this.top = Math.max(this.top, seq);
    this.edge = Math.max(this.edge, seq);
    if (source !== 'own') this.lastOrdered[source] = Math.max(this.lastOrdered[source], seq);
    this.advance();
  }

  /** The packet of a `new` verdict failed verification (its warning was shown): nothing of it counts. */
  refuse(entry: StreamEntry): void {
    if (entry.seq > this.mark && entry.seq <= this.mark + MAX_JUMP) this.refused.add(entry.seq);
  }

  /**
   * Positions below the highest accepted that nothing filled yet (provisional until `settle`): how
   * many, and the first few. Bounded work even if the relay claims an absurdly high position.
   */
  holes(): { readonly count: number; readonly first: readonly number[] } {
    let present = 0;
    for (const seq of this.bySeq.keys()) if (seq > this.mark && seq < this.top) present++;
    for (const seq of this.refused) if (seq > this.mark && seq < this.top) present++;
    const count = Math.max(0, this.top - this.mark - 1 - present);
    const first: number[] = [];
    for (
      let seq = this.mark + 1;
      seq < this.top && first.length < Math.min(count, LISTED_MISSING);
      seq++
    ) {
      if (!this.bySeq.has(seq) && !this.refused.has(seq)) first.push(seq);
    }
    return { count, first };
  }

  /**
   * Called after a sync ran to its end: positions it did not fill were withheld by the relay. Reports
   * them once, then moves past them to the highest accepted packet (refused ones were reported).
   */
  settle(): StreamIssue | null {
    const { count, first } = this.holes();
    this.mark = this.top;
    this.complete = true;
    this.prune();
    if (count === 0) return null;
    const more = count > first.length ? ` and ${count - first.length} more` : '';
    return {
      code: 'STREAM_GAP',
      message: `The relay withheld ${count === 1 ? 'message' : 'messages'} ${first.join(', ')}${more} of your stream: ${count === 1 ? 'it was' : 'they were'} dropped or hidden.`,
      missing: first,
    };
  }

  /** The last packets accepted, to persist so that a replay in a later session is recognised. */
  rememberedPackets(): RememberedPacket[] {
    const all = new Map(this.remembered);
    for (const [id, seq] of this.seqOfId) all.set(id, seq);
    return [...all]
      .map(([id, seq]): RememberedPacket => [seq, id])
      .sort((a, b) => a[0] - b[0])
      .slice(-REMEMBERED_PACKETS);
  }

  private advance(): void {
    while (this.bySeq.has(this.mark + 1)) this.mark++;
    this.prune();
  }

  private prune(): void {
    for (const seq of this.refused) if (seq <= this.mark) this.refused.delete(seq);
    const below = this.mark - WINDOW;
    if (below <= this.floor) return;
    for (const [seq, { id }] of this.bySeq) {
      if (seq <= below) {
        this.bySeq.delete(seq);
        this.seqOfId.delete(id);
      }
    }
    this.floor = below;
  }
}

/** The peer a history page is about, and the page asked for. */
export interface HistoryPageContext {
  readonly me: string;
  /** The peer of the conversation, or the group id of a group's history (`group` set). */
  readonly peer: string;
  /** True for a group's history: every record must be a group message of that group. */
  readonly group?: boolean;
  readonly before?: number | undefined;
  /** Packets this device remembers from its stream (the profile's `recentPackets`). */
  readonly remembered?: readonly RememberedPacket[] | undefined;
}

/**
 * Checks a `history` page. Its positions skip the other conversations, so a gap proves nothing here;
 * but every packet must belong to this conversation, appear once, in increasing order, below
 * `before`, and at the place this device remembers it. Returns one issue (or undefined) a packet.
 */
export function checkHistoryPage(
  context: HistoryPageContext,
  packets: readonly StreamEntry[],
): (StreamIssue | undefined)[] {
  const remembered = new Map<string, number>();
  for (const [seq, id] of context.remembered ?? []) remembered.set(id, seq);
  const inPage = new Set<string>();
  let last = 0;
  return packets.map((entry) => {
    const { seq } = entry;
    const packet = partsOf(entry);
    const belongs =
      context.group === true
        ? 'groupMessage' in entry && entry.groupMessage.group === context.peer
        : 'packet' in entry &&
          [packet.from, packet.to].sort().join() === [context.me, context.peer].sort().join();
    if (!belongs) {
      return {
        code: 'WRONG_CONVERSATION',
        message: `The relay put a packet of another conversation (message ${seq} of your stream) into this one; it is not shown here.`,
        seq,
        id: packet.id,
      };
    }
    const earlier = remembered.get(packet.id);
    if (inPage.has(packet.id) || (earlier !== undefined && earlier !== seq)) {
      return {
        code: 'PACKET_REPLAYED',
        message: `The relay replayed packet ${short(packet.id)} in this conversation; it is not shown again.`,
        seq,
        id: packet.id,
      };
    }
    inPage.add(packet.id);
    const outOfOrder = seq <= last || (context.before !== undefined && seq >= context.before);
    last = Math.max(last, seq);
    if (outOfOrder) {
      return {
        code: 'STREAM_REORDERED',
        message: `The relay served message ${seq} of this conversation out of order; its sender's time is authentic.`,
        seq,
        id: packet.id,
      };
    }
    return undefined;
  });
}

/** True when a history issue means the packet must not be shown (as opposed to shown with a warning). */
export function hidesPacket(issue: StreamIssue): boolean {
  return issue.code !== 'STREAM_REORDERED';
}
