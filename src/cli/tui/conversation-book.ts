import type { PresenceUpdate, StoredPacket } from '../../core/index.js';
import { isWarning, type MessageLine } from '../stream/messages.js';
import { peerLabel, peerLabels, type PeerLabel } from '../stream/peer-label.js';
import type { Profile } from '../profile/profile.js';
import {
  mergeMessages,
  type ChatLog,
  type ChatMessage,
  type ConversationSummary,
  type TrustState,
} from './chat-state.js';

/** The summary's name fields from a peer's label. */
function labelFields(
  label: PeerLabel | undefined,
  id: string,
): Pick<ConversationSummary, 'name' | 'shortId' | 'lookalike'> {
  if (label === undefined) return { name: id };
  return label.lookalike === undefined
    ? { name: label.name, shortId: label.shortId }
    : { name: label.name, shortId: label.shortId, lookalike: label.lookalike };
}

/**
 * The messages to keep when the relay's newest page replaces a cached start: all of them when the
 * page reaches back to them (or holds everything), else only those the page covers (and unsent
 * ones), so no run of messages the cache missed is hidden between the two.
 */
function withoutGap(
  current: readonly ChatMessage[],
  page: readonly ChatMessage[],
  hasOlder: boolean,
  keep: boolean,
): readonly ChatMessage[] {
  const ids = new Set(page.map((message) => message.id));
  const seqs = page.flatMap((message) => (message.seq === undefined ? [] : [message.seq]));
  if (keep || !hasOlder || seqs.length === 0 || current.some((message) => ids.has(message.id)))
    return current;
  const oldest = Math.min(...seqs);
  return current.filter((message) => message.seq === undefined || message.seq >= oldest);
}

/** How many refused positions the book remembers, so that one re-served forgery counts once. */
const REFUSED_REMEMBERED = 10_000;

interface Tally {
  unread: number;
  lastActivity: number;
  lastIncomingSeq: number;
  rejected: number;
  online: boolean;
  lastSeen: number | null;
}

/**
 * The name to show for a peer: my alias for them, else the username they proved, else a short id,
 * never one another peer shares (peer-label.ts).
 */
export function displayName(
  profile: Profile,
  identifier: string,
  others: Iterable<string> = [],
): string {
  return peerLabel(profile, identifier, others).name;
}

/** How far the profile trusts a peer's key. */
export function trustOf(profile: Profile, identifier: string): TrustState {
  const peer = profile.peers[identifier];
  if (identifier === profile.identifier) return 'verified';
  if (peer?.changedKey !== undefined) return 'changed';
  if (peer?.publicKey === undefined) return 'unknown';
  return peer.verified === true ? 'verified' : 'unverified';
}

/**
 * The conversations of one account: inbox tallies (unread, activity, presence, rejected packets),
 * the loaded message logs, and which one is open. Each packet of the stream is counted once.
 */
export class ConversationBook {
  private readonly tallies = new Map<string, Tally>();
  private readonly chatLogs = new Map<string, ChatLog>();
  private readonly loadedPeers = new Set<string>();
  /** Conversations opened at a search result: their cached messages stay when the relay's page comes. */
  private readonly keptCached = new Set<string>();
  private readonly seen = new Set<number>();
  private readonly refusedAt = new Set<number>();
  private activePeer: string | null = null;
  /** Incoming messages seen live, for the bell. */
  arrivals = 0;

  constructor(
    private readonly me: string,
    private readonly profile: Profile,
  ) {}

  private tally(peer: string): Tally {
    let tally = this.tallies.get(peer);
    if (!tally) {
      tally = {
        unread: 0,
        lastActivity: 0,
        lastIncomingSeq: 0,
        rejected: 0,
        online: false,
        lastSeen: null,
      };
      this.tallies.set(peer, tally);
    }
    return tally;
  }

  /** True the first time a sequence number is seen: a replayed or re-synced packet counts once. */
  count(stored: StoredPacket): boolean {
    if (this.seen.has(stored.seq)) return false;
    this.seen.add(stored.seq);
    return true;
  }

  /** A packet that failed verification: its place is not counted, so the genuine one still is. */
  uncount(stored: StoredPacket): void {
    this.seen.delete(stored.seq);
  }

  /** Counts a verified packet: activity, and unread if it is theirs and after my read marker. */
  counted(peer: string, stored: StoredPacket, profile: Profile): void {
    const tally = this.tally(peer);
    tally.lastActivity = Math.max(tally.lastActivity, stored.serverTime);
    if (stored.packet.from === this.me) return;
    tally.lastIncomingSeq = Math.max(tally.lastIncomingSeq, stored.seq);
    if (stored.seq > (profile.peers[peer]?.readUpTo ?? 0)) tally.unread++;
  }

  /** True for the first packet from this peer in my stream: the one that may carry their username. */
  firstFrom(peer: string, stored: StoredPacket): boolean {
    return stored.packet.from !== this.me && this.tally(peer).lastIncomingSeq === 0;
  }

  /**
   * A packet that failed verification: flagged in the inbox, never counted as a message. The same
   * place refused again (a forged packet re-served by a re-sync) counts once.
   */
  rejected(peer: string, stored?: StoredPacket): void {
    if (stored !== undefined) {
      if (this.refusedAt.has(stored.seq)) return;
      this.refusedAt.add(stored.seq);
      // Bounded: a relay can send forged packets without end.
      if (this.refusedAt.size > REFUSED_REMEMBERED) {
        for (const oldest of this.refusedAt) {
          this.refusedAt.delete(oldest);
          break;
        }
      }
    }
    this.tally(peer).rejected++;
  }

  /** Activity without a stored packet (a queued message of mine). */
  touch(peer: string, time: number): void {
    const tally = this.tally(peer);
    tally.lastActivity = Math.max(tally.lastActivity, time);
  }

  /** A presence push from the relay. */
  presence(update: PresenceUpdate): void {
    const tally = this.tally(update.identifier);
    tally.online = update.online;
    tally.lastSeen = update.lastSeen;
  }

  /**
   * My link dropped: no presence push can arrive, so nobody is shown online any more. Who was online
   * is shown as last seen now, until the relay sends everyone's presence again on reconnection.
   */
  presenceUnknown(now: number): void {
    for (const tally of this.tallies.values()) {
      if (!tally.online) continue;
      tally.online = false;
      tally.lastSeen = Math.max(tally.lastSeen ?? 0, now);
    }
  }

  /** Moves the read marker to the newest incoming message of a conversation. */
  markRead(peer: string, profile: Profile): void {
    const tally = this.tally(peer);
    tally.unread = 0;
    const record = profile.peers[peer] ?? {};
    if (tally.lastIncomingSeq > (record.readUpTo ?? 0)) {
      profile.peers[peer] = { ...record, readUpTo: tally.lastIncomingSeq };
    }
  }

  /** Records a new incoming message seen live. */
  arrived(): void {
    this.arrivals++;
  }

  /** Adds or merges messages into a conversation (only if it is on screen already, when asked). */
  update(peer: string, messages: readonly ChatMessage[], onlyIfShown = false): void {
    const log = this.chatLogs.get(peer);
    if (log === undefined && onlyIfShown) return;
    const base = log ?? { peer, messages: [], hasOlder: true, loadingOlder: false };
    this.chatLogs.set(peer, { ...base, messages: mergeMessages(base.messages, messages) });
  }

  /** Changes a message already shown (a status from an ack or a receipt); unknown ids are ignored. */
  patch(peer: string, id: string, change: (message: ChatMessage) => ChatMessage): void {
    const log = this.chatLogs.get(peer);
    const known = log?.messages.find((message) => message.id === id);
    if (log === undefined || known === undefined) return;
    this.chatLogs.set(peer, { ...log, messages: mergeMessages(log.messages, [change(known)]) });
  }

  /** Takes a message off the screen (a placeholder replaced by its sealed packet). */
  remove(peer: string, id: string): void {
    const log = this.chatLogs.get(peer);
    if (log === undefined) return;
    this.chatLogs.set(peer, {
      ...log,
      messages: log.messages.filter((message) => message.id !== id),
    });
  }

  /** A history page arrived from the relay (verified); it replaces a cached start it does not reach. */
  loaded(peer: string, messages: readonly ChatMessage[], hasOlder: boolean): void {
    const before = this.chatLogs.get(peer);
    if (before?.cached === true) {
      const kept = withoutGap(before.messages, messages, hasOlder, this.keptCached.has(peer));
      this.chatLogs.set(peer, { ...before, messages: kept });
    }
    this.update(peer, messages);
    const log = this.chatLogs.get(peer);
    if (log) this.chatLogs.set(peer, { ...log, hasOlder, loadingOlder: false, cached: false });
    this.loadedPeers.add(peer);
    this.keptCached.delete(peer);
  }

  /**
   * Messages from this device's local history, shown at once while the relay's page is awaited
   * (the log says so); `keep` holds them even if the relay's newest page does not reach them (a
   * conversation opened at a search result).
   */
  cached(peer: string, messages: readonly ChatMessage[], keep = false): void {
    this.update(peer, messages);
    const log = this.chatLogs.get(peer);
    if (log === undefined || this.loadedPeers.has(peer)) return;
    this.chatLogs.set(peer, { ...log, cached: true });
    if (keep) this.keptCached.add(peer);
  }

  /** Shows or hides the "loading older messages" line. */
  setLoading(peer: string, loading: boolean): void {
    this.update(peer, []);
    const log = this.chatLogs.get(peer);
    if (log) this.chatLogs.set(peer, { ...log, loadingOlder: loading });
  }

  /** True once the conversation's latest page came from the relay. */
  isLoaded(peer: string): boolean {
    return this.loadedPeers.has(peer);
  }

  /** The messages of a conversation, if shown. */
  log(peer: string): ChatLog | undefined {
    return this.chatLogs.get(peer);
  }

  setActive(peer: string | null): void {
    this.activePeer = peer;
    if (peer !== null) this.update(peer, []);
  }

  active(): string | null {
    return this.activePeer;
  }

  name(peer: string): string {
    return displayName(this.profile, peer, this.tallies.keys());
  }

  /** A verified line (or a warning) as the chat view shows it. */
  toMessage(line: MessageLine, stored: StoredPacket): ChatMessage {
    const outgoing = stored.packet.from === this.me;
    if (isWarning(line)) {
      return {
        id: line.id,
        seq: stored.seq,
        time: stored.serverTime,
        direction: outgoing ? 'outgoing' : 'incoming',
        warning: line.warning,
      };
    }
    return {
      id: line.id,
      seq: stored.seq,
      time: line.time,
      direction: line.direction,
      text: line.text,
      ...(line.replyTo === undefined ? {} : { replyTo: line.replyTo }),
      ...(line.edits === undefined ? {} : { edits: line.edits }),
      ...(line.deletes === undefined ? {} : { deletes: line.deletes }),
      ...(line.direction === 'outgoing'
        ? { status: stored.delivered === true ? 'delivered' : 'sent' }
        : {}),
    };
  }

  /** The inbox, newest activity first. */
  summaries(): ConversationSummary[] {
    const labels = peerLabels(this.profile, this.tallies.keys());
    return [...this.tallies]
      .map(([id, tally]) => ({
        id,
        ...labelFields(labels.get(id), id),
        unread: tally.unread,
        lastActivity: tally.lastActivity,
        online: tally.online,
        lastSeen: tally.lastSeen,
        rejected: tally.rejected,
        trust: trustOf(this.profile, id),
      }))
      .filter(
        (summary) =>
          summary.lastActivity > 0 || summary.rejected > 0 || this.chatLogs.has(summary.id),
      )
      .sort((a, b) => b.lastActivity - a.lastActivity);
  }

  /** A copy of the loaded logs for a snapshot. */
  logs(): ReadonlyMap<string, ChatLog> {
    return new Map(this.chatLogs);
  }
}
