import type { Session } from '../relay/session.js';
import type { PeerAddress } from '../profile/peers.js';
import { isWarning, readStored, type MessageLine } from './messages.js';
import { checkHistoryPage, hidesPacket, type StreamIssue } from './stream-guard.js';
import { moveReadMarker } from './read-marker.js';

/** One item of a history page, in order: a line (message or refused packet) or a stream issue. */
export type HistoryItem =
  | { readonly kind: 'line'; readonly line: MessageLine }
  | { readonly kind: 'issue'; readonly issue: StreamIssue };

/**
 * Reads one page of the conversation with a peer, each packet checked against the page's rules
 * and verified and decrypted, oldest first, and moves the peer's read marker to the last incoming
 * message shown (never far beyond what this device knows of its stream). What `history` prints and
 * the JSON-RPC `history` method returns. Mutates the profile; the caller saves it.
 */
export async function readHistoryPage(
  session: Session,
  address: PeerAddress,
  limit: number,
  before?: number,
): Promise<{ items: HistoryItem[]; more: boolean }> {
  const page = await session.client.history(address.identifier, before, limit);
  const issues = checkHistoryPage(
    {
      me: session.account.identifier,
      peer: address.identifier,
      remembered: session.profile.recentPackets,
    },
    page.packets,
  );
  const items: HistoryItem[] = [];
  let lastIncoming = 0;
  for (const [index, stored] of page.packets.entries()) {
    const issue = issues[index];
    if (issue) items.push({ kind: 'issue', issue });
    if (issue && hidesPacket(issue)) continue;
    const line = await readStored(session, stored);
    if (line) items.push({ kind: 'line', line });
    if (line && !isWarning(line) && line.direction === 'incoming') lastIncoming = stored.seq;
  }
  const peer = session.profile.peers[address.identifier] ?? {};
  // The read marker moves only to a verified packet's place, never far beyond this device's stream.
  const moved = moveReadMarker(session.profile, peer.readUpTo, lastIncoming, 'this conversation');
  if (moved.issue) items.push({ kind: 'issue', issue: moved.issue });
  if (moved.readUpTo !== undefined)
    session.profile.peers[address.identifier] = { ...peer, readUpTo: moved.readUpTo };
  return { items, more: page.more };
}
