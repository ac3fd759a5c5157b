import { MetaChatError, verifyPacketSignature, type PresenceUpdate } from '../../core/index.js';
import { KeyChangedError } from '../cli-errors.js';
import type { CliContext } from '../cli-context.js';
import { withSession } from './with-session.js';
import { isWarning, readStored } from '../stream/messages.js';
import { peerLabels } from '../stream/peer-label.js';
import { senderKey } from '../profile/peers.js';
import { offlineInbox } from './offline-inbox.js';
import { MAX_PAGES } from '../stream/stream-follower.js';
import { RelayRefusedError, RelayUnreachableError } from '../relay/relay-client.js';
import { StreamGuard, type StreamIssue } from '../stream/stream-guard.js';
import { printStreamIssue } from '../stream/stream-warnings.js';
import type { ConversationSummary } from '../tui/chat-state.js';
import { localDateTime } from '../terminal/local-time.js';
import { oneLine, terminalJson } from '../terminal/terminal-text.js';

/** A packet the client could not verify: a protocol failure, a changed key or no key for its sender. */
function isRefusal(error: unknown): boolean {
  return (
    error instanceof MetaChatError ||
    error instanceof KeyChangedError ||
    (error instanceof RelayRefusedError && error.code === 'UNKNOWN_IDENTIFIER')
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
 * `inbox`: every conversation of my stream, newest activity first, with unread counts (incoming
 * packets after the read marker that `history` moves), last activity and presence. Each counted
 * packet's signature is checked against the peer's pinned key, and each peer's first packet is
 * decrypted too, so that names arrive with the verified username exchange. Offline, it says so and
 * lists what this device knows.
 */
export async function inboxCommand(ctx: CliContext): Promise<void> {
  try {
    await onlineInbox(ctx);
  } catch (error) {
    if (!(error instanceof RelayUnreachableError)) throw error;
    await offlineInbox(ctx, error);
  }
}

async function onlineInbox(ctx: CliContext): Promise<void> {
  const presence = new Map<string, PresenceUpdate>();
  await withSession(
    ctx,
    async (session) => {
      const me = session.account.identifier;
      const entries = new Map<string, { unread: number; last: number; rejected: number }>();
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
              verifyPacketSignature(packet, sender.key);
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
      for (const issue of issues) printStreamIssue(issue, ctx.options().json === true);
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
      if (ctx.options().json === true) {
        for (const entry of list) process.stdout.write(`${terminalJson(entry)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write('No conversations yet.\n');
      for (const entry of list) {
        const when = localDateTime(entry.lastActivity);
        const state = entry.online
          ? 'online'
          : entry.lastSeen
            ? `seen ${localDateTime(entry.lastSeen)}`
            : '';
        const unread = entry.unread > 0 ? ` (${entry.unread} unread)` : '';
        const warn =
          (entry.rejected > 0 ? ` !! ${entry.rejected} forged or unverifiable` : '') +
          (entry.lookalike === undefined
            ? ''
            : ` !! looks like ${entry.lookalike}: a different peer (${entry.id})`);
        process.stdout.write(
          `${oneLine(entry.name).padEnd(24)} ${when}  ${state}${unread}${warn}\n`,
        );
      }
    },
    false,
    (client) => {
      client.on('presence', (update) => presence.set(update.identifier, update));
    },
  );
}
