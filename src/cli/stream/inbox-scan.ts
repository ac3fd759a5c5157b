import { isGroupRecord, MetaChatError, type PresenceUpdate } from '../../core/index.js';
import { verifySender } from './open-with-keys.js';
import { PeerBlockedError } from '../cli-errors.js';
import { isWarning, readStored } from './messages.js';
import { peerLabels } from './peer-label.js';
import { senderKey } from '../profile/peers.js';
import { MAX_PAGES } from './stream-follower.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { StreamGuard, type StreamIssue } from './stream-guard.js';
import type { ConversationSummary } from '../tui/chat-state.js';
import { groupEntries, tallyGroup, type GroupInboxEntry, type GroupTally } from './group-inbox.js';

/** A packet the client could not verify: a protocol failure, a changed key or no key for its sender (unknown, or deleted and never pinned). */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof MetaChatError ||
    error instanceof PeerBlockedError ||
    (error instanceof RelayRefusedError &&
      (error.code === 'UNKNOWN_IDENTIFIER' || error.code === 'ACCOUNT_DELETED'))
  );
}

function truncated(highest: number, seen: number): StreamIssue {
  return {
    code: 'STREAM_GAP',
    message: `The relay's stream ends at message ${highest}, but this device already saw message ${seen}: the relay withheld or rolled back the newest messages.`,
    missing: [seen],
  };
}

function pageLimitReached(): StreamIssue {
  return {
    code: 'TOO_MANY_PAGES',
    message: `Stopped reading the stream after ${MAX_PAGES} pages: the relay keeps saying there is more. The inbox below shows only what was read.`,
  };
}

/** One conversation in the inbox: what the chat screen's inbox shows, less the trust state. */
export type InboxEntry = Omit<ConversationSummary, 'trust' | 'shortId'>;

/**
 * Reads my whole stream (at most MAX_PAGES pages) into one entry per conversation, newest activity
 * first, with unread counts (incoming packets after the read marker that `history` moves), last
 * activity and presence (as the relay pushed it to `presence`). Each counted packet's signature is
 * checked against the peer's pinned key, and each peer's first packet is decrypted too, so that
 * names arrive with the verified username exchange. What `inbox` prints and the JSON-RPC `inbox`
 * method returns, with the stream issues noticed on the way. Group messages are opened and counted
 * per group (group-inbox.ts). Mutates the profile; the caller saves it.
 */
export async function scanInbox(
  session: Session,
  presence: ReadonlyMap<string, PresenceUpdate>,
): Promise<{ entries: InboxEntry[]; groups: GroupInboxEntry[]; issues: StreamIssue[] }> {
  const me = session.account.identifier;
  const entries = new Map<string, { unread: number; last: number; rejected: number }>();
  const groups = new Map<string, GroupTally>();
  const guard = new StreamGuard({ seenUpTo: 0, remembered: session.profile.recentPackets });
  const issues: StreamIssue[] = [];
  const named = new Set<string>();
  let pages = 0;
  let cut = false;
  for (let after = 0, more = true; more; pages++) {
    if (pages === MAX_PAGES) {
      issues.push(pageLimitReached());
      cut = true;
      break;
    }
    const page = await session.client.sync(after, 500);
    let next = after;
    for (const stored of page.packets) {
      const verdict = guard.observe(stored, 'page');
      if (verdict.kind !== 'jump') next = Math.max(next, stored.seq);
      if (verdict.kind === 'duplicate') continue;
      if (verdict.kind === 'replayed' || verdict.kind === 'jump') {
        issues.push(verdict.issue);
        continue;
      }
      if (verdict.issue) issues.push(verdict.issue);
      if (isGroupRecord(stored)) {
        const line = await tallyGroup(session, groups, stored);
        if (line) guard.accept(stored, 'page');
        else guard.refuse(stored);
        continue;
      }
      const { packet } = stored;
      const peer = packet.from === me ? packet.to : packet.from;
      const entry = entries.get(peer) ?? { unread: 0, last: 0, rejected: 0 };
      entries.set(peer, entry);
      if (packet.from !== me && !named.has(peer)) {
        // Until one packet from the peer verifies, decrypt: its username rides in a verified
        // hello, the first thing it sends, which is activity but not a message (as in the chat
        // screen). A forged or misaddressed packet does not stop this.
        const line = await readStored(session, stored);
        if (line !== null && isWarning(line)) {
          entry.rejected++;
          guard.refuse(stored);
          continue;
        }
        guard.accept(stored, 'page');
        named.add(peer);
        if (line === null) {
          entry.last = Math.max(entry.last, stored.serverTime);
          continue;
        }
      } else {
        try {
          const sender = await senderKey(session.client, session.profile, packet.from);
          verifySender(packet, sender);
          sender.pin();
        } catch (error) {
          if (!isRefusal(error)) throw error;
          entry.rejected++;
          guard.refuse(stored);
          continue;
        }
        guard.accept(stored, 'page');
      }
      entry.last = Math.max(entry.last, stored.serverTime);
      const readUpTo = session.profile.peers[peer]?.readUpTo ?? 0;
      if (packet.from !== me && stored.seq > readUpTo) entry.unread++;
    }
    // A relay that says "more" without moving forward would keep us here forever.
    more = page.more && next > after;
    after = next;
  }
  const gap = guard.settle();
  if (gap) issues.push(gap);
  if (!cut && guard.highest < session.profile.seenUpTo)
    issues.push(truncated(guard.highest, session.profile.seenUpTo));
  const labels = peerLabels(session.profile, entries.keys());
  const list: InboxEntry[] = [...entries].map(([id, entry]) => {
    const seen = presence.get(id);
    const label = labels.get(id);
    return {
      id,
      name: label?.name ?? id,
      ...(label?.lookalike === undefined ? {} : { lookalike: label.lookalike }),
      unread: entry.unread,
      lastActivity: entry.last,
      online: seen?.online ?? false,
      lastSeen: seen?.lastSeen ?? null,
      rejected: entry.rejected,
    };
  });
  list.sort((a, b) => b.lastActivity - a.lastActivity);
  return { entries: list, groups: groupEntries(session, groups), issues };
}
