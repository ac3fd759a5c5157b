/** What the index keeps of each stored packet: enough to route, page and deduplicate without its body. */
export interface IndexEntry {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly seqFrom: number;
  readonly seqTo: number;
  readonly serverTime: number;
  /** A group message's: `to` is the group id, and every member at its head has a place. */
  readonly members?: readonly string[];
  /** Each member's place, in the order of `members`. */
  readonly seqs?: readonly number[];
}

/** Thrown when entries do not line up (a gap or a reused sequence number): the store is corrupt. */
export class IndexMismatchError extends Error {}

function pairKey(a: string, b: string): string {
  return a <= b ? `${a}:${b}` : `${b}:${a}`;
}

/** The key of one member's list of a group's messages (a group id never equals an identifier). */
function groupKey(group: string, member: string): string {
  return `${group}/${member}`;
}

/**
 * The in-memory view of the log: packet ids, each user's stream and each conversation as lists of
 * log positions. Rebuilt at start from the segment sidecars; never written to disk itself.
 */
export class MessageIndex {
  private readonly entries: IndexEntry[] = [];
  private readonly byId = new Map<string, number>();
  private readonly streams = new Map<string, number[]>();
  private readonly conversations = new Map<string, number[]>();
  private readonly peers = new Map<string, Set<string>>();
  private readonly interned = new Map<string, string>();

  /** How many packets the log holds; also the next free position. */
  get size(): number {
    return this.entries.length;
  }

  /** The log position of a packet id, if stored. */
  positionOf(id: string): number | undefined {
    return this.byId.get(id);
  }

  entryAt(pos: number): IndexEntry {
    const entry = this.entries[pos];
    if (!entry) throw new RangeError(`no entry at ${pos}`);
    return entry;
  }

  /** Length of a user's stream, which is also its last sequence number. */
  streamLength(identifier: string): number {
    return this.streams.get(identifier)?.length ?? 0;
  }

  /** Log positions of a user's stream with sequence numbers in (after, after + limit]. */
  streamSlice(
    identifier: string,
    after: number,
    limit: number,
  ): { positions: number[]; more: boolean } {
    const stream = this.streams.get(identifier) ?? [];
    return { positions: stream.slice(after, after + limit), more: stream.length > after + limit };
  }

  /** Positions of the last `limit` packets between two users whose seq (for `identifier`) is below `before`. */
  conversationPage(
    identifier: string,
    peer: string,
    before: number | undefined,
    limit: number,
  ): { positions: number[]; more: boolean } {
    return this.pageOf(
      this.conversations.get(pairKey(identifier, peer)) ?? [],
      identifier,
      before,
      limit,
    );
  }

  /** Positions of the last `limit` messages of a group in a member's stream below `before`. */
  groupPage(
    identifier: string,
    group: string,
    before: number | undefined,
    limit: number,
  ): { positions: number[]; more: boolean } {
    return this.pageOf(
      this.conversations.get(groupKey(group, identifier)) ?? [],
      identifier,
      before,
      limit,
    );
  }

  private pageOf(
    positions: readonly number[],
    identifier: string,
    before: number | undefined,
    limit: number,
  ): { positions: number[]; more: boolean } {
    let end = positions.length;
    if (before !== undefined) {
      let low = 0;
      let high = positions.length;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (this.seqFor(identifier, positions[mid] ?? 0) < before) low = mid + 1;
        else high = mid;
      }
      end = low;
    }
    const start = Math.max(0, end - limit);
    return { positions: positions.slice(start, end), more: start > 0 };
  }

  /** The sequence number of a position in one participant's stream. */
  seqFor(identifier: string, pos: number): number {
    const entry = this.entryAt(pos);
    if (entry.members !== undefined) return entry.seqs?.[entry.members.indexOf(identifier)] ?? 0;
    return entry.from === identifier ? entry.seqFrom : entry.seqTo;
  }

  /** Who shares a two-way conversation with the identifier: one unanswered packet makes nobody a peer. */
  peersOf(identifier: string): string[] {
    return [...(this.peers.get(identifier) ?? [])].filter((other) =>
      this.peers.get(other)?.has(identifier),
    );
  }

  /** Whether `from` has written to `to` (one direction of a conversation). */
  hasContact(from: string, to: string): boolean {
    return this.peers.get(from)?.has(to) === true;
  }

  /** Appends the next entry; its position must be `size` and its seqs the next of each stream. */
  add(pos: number, entry: IndexEntry): void {
    if (pos !== this.entries.length)
      throw new IndexMismatchError(`expected position ${this.entries.length}, got ${pos}`);
    if (this.byId.has(entry.id)) throw new IndexMismatchError(`packet id stored twice at ${pos}`);
    if (entry.members !== undefined) {
      this.addGroup(pos, entry, entry.members, entry.seqs ?? []);
      return;
    }
    const from = this.intern(entry.from);
    const to = this.intern(entry.to);
    const expectedFrom = this.streamLength(from) + 1;
    const expectedTo = from === to ? expectedFrom : this.streamLength(to) + 1;
    if (entry.seqFrom !== expectedFrom || entry.seqTo !== expectedTo) {
      throw new IndexMismatchError(`sequence numbers out of order at ${pos}`);
    }
    this.entries.push({ ...entry, from, to });
    this.byId.set(entry.id, pos);
    this.push(this.streams, from, pos);
    if (to !== from) this.push(this.streams, to, pos);
    this.push(this.conversations, pairKey(from, to), pos);
    if (to !== from) this.link(from, to);
  }

  /** A group message: the next place in every member's stream, and in each member's list of the group. */
  private addGroup(
    pos: number,
    entry: IndexEntry,
    members: readonly string[],
    seqs: readonly number[],
  ): void {
    const interned = members.map((m) => this.intern(m));
    if (
      seqs.length !== interned.length ||
      !interned.includes(entry.from) ||
      interned.some((m, i) => seqs[i] !== this.streamLength(m) + 1)
    ) {
      throw new IndexMismatchError(`sequence numbers out of order at ${pos}`);
    }
    this.entries.push({ ...entry, from: this.intern(entry.from), members: interned });
    this.byId.set(entry.id, pos);
    for (const member of interned) {
      this.push(this.streams, member, pos);
      this.push(this.conversations, groupKey(entry.to, member), pos);
    }
  }

  private push(map: Map<string, number[]>, key: string, pos: number): void {
    const list = map.get(key);
    if (list) list.push(pos);
    else map.set(key, [pos]);
  }

  private link(a: string, b: string): void {
    const set = this.peers.get(a);
    if (set) set.add(b);
    else this.peers.set(a, new Set([b]));
  }

  private intern(identifier: string): string {
    const known = this.interned.get(identifier);
    if (known !== undefined) return known;
    this.interned.set(identifier, identifier);
    return identifier;
  }
}
