import { MetaChatError, verifyPacketSignature, type PresenceUpdate } from '../core/index.js';
import { KeyChangedError } from './cli-errors.js';
import type { CliContext } from './main.js';
import { withSession } from './message-commands.js';
import { peerKey } from './peers.js';

/** One conversation in the inbox. */
export interface InboxEntry {
  readonly id: string;
  readonly name: string;
  readonly unread: number;
  readonly lastActivity: number;
  readonly online: boolean;
  readonly lastSeen: number | null;
  /** Packets from this peer whose signature did not verify (never counted as messages). */
  readonly rejected: number;
}

/**
 * `inbox`: every conversation of my stream, newest activity first, with unread counts (incoming
 * packets after the read marker that `history` moves), last activity and presence. Each counted
 * packet's signature is checked against the peer's pinned key.
 */
export async function inboxCommand(ctx: CliContext): Promise<void> {
  const presence = new Map<string, PresenceUpdate>();
  await withSession(
    ctx,
    async (session) => {
      const me = session.account.identifier;
      const entries = new Map<string, { unread: number; last: number; rejected: number }>();
      for (let after = 0, more = true; more;) {
        const page = await session.client.sync(after, 500);
        for (const stored of page.packets) {
          after = stored.seq;
          const { packet } = stored;
          const peer = packet.from === me ? packet.to : packet.from;
          const entry = entries.get(peer) ?? { unread: 0, last: 0, rejected: 0 };
          entries.set(peer, entry);
          try {
            const key = await peerKey(session.client, session.profile, { identifier: packet.from });
            verifyPacketSignature(packet, key);
          } catch (error) {
            if (!(error instanceof MetaChatError || error instanceof KeyChangedError)) throw error;
            entry.rejected++;
            continue;
          }
          entry.last = Math.max(entry.last, stored.serverTime);
          const readUpTo = session.profile.peers[peer]?.readUpTo ?? 0;
          if (packet.from !== me && stored.seq > readUpTo) entry.unread++;
        }
        more = page.more;
      }
      const list: InboxEntry[] = [...entries].map(([id, entry]) => {
        const peer = session.profile.peers[id];
        const seen = presence.get(id);
        return {
          id,
          name: id === me ? 'me (notes)' : (peer?.alias ?? peer?.username ?? `${id.slice(0, 12)}…`),
          unread: entry.unread,
          lastActivity: entry.last,
          online: seen?.online ?? false,
          lastSeen: seen?.lastSeen ?? null,
          rejected: entry.rejected,
        };
      });
      list.sort((a, b) => b.lastActivity - a.lastActivity);
      if (ctx.options().json === true) {
        for (const entry of list) process.stdout.write(`${JSON.stringify(entry)}\n`);
        return;
      }
      if (list.length === 0) process.stdout.write('No conversations yet.\n');
      for (const entry of list) {
        const when = new Date(entry.lastActivity).toISOString().replace('T', ' ').slice(0, 16);
        const state = entry.online
          ? 'online'
          : entry.lastSeen
            ? `seen ${new Date(entry.lastSeen).toISOString().slice(0, 16).replace('T', ' ')}`
            : '';
        const unread = entry.unread > 0 ? ` (${entry.unread} unread)` : '';
        const warn = entry.rejected > 0 ? ` !! ${entry.rejected} forged or unverifiable` : '';
        process.stdout.write(`${entry.name.padEnd(24)} ${when}  ${state}${unread}${warn}\n`);
      }
    },
    false,
    (client) => {
      client.on('presence', (update) => presence.set(update.identifier, update));
    },
  );
}
