import type { Session } from '../relay/session.js';
import { checkHistoryPage, hidesPacket } from '../stream/stream-guard.js';
import { moveReadMarker } from '../stream/read-marker.js';
import type { StreamIssue } from '../stream/stream-guard.js';
import { isGroupRecord } from '../../core/index.js';
import { isGroupRefusal, readGroupRecord, type GroupLine } from './group-reader.js';

/** One item of a group's history page, in order: a line (message or refusal) or a stream issue. */
export type GroupHistoryItem =
  | { readonly kind: 'line'; readonly line: GroupLine }
  | { readonly kind: 'issue'; readonly issue: StreamIssue };

/**
 * Reads one page of a group's messages in my stream (`history {group}`), oldest first: each
 * record checked against the page's rules (a group message of that group, once, in order, at the
 * place this device remembers it), then opened through readGroupRecord. Moves the group's read
 * marker to the last incoming message shown, never far beyond what this device knows of its
 * stream. Mutates the profile; the caller saves it.
 */
export async function readGroupHistoryPage(
  session: Session,
  group: string,
  limit: number,
  before?: number,
): Promise<{ items: GroupHistoryItem[]; more: boolean }> {
  const page = await session.client.groupHistory(group, before, limit);
  const issues = checkHistoryPage(
    {
      me: session.account.identifier,
      peer: group,
      group: true,
      before,
      remembered: session.profile.recentPackets,
    },
    page.packets,
  );
  const items: GroupHistoryItem[] = [];
  let lastIncoming = 0;
  for (const [index, stored] of page.packets.entries()) {
    const issue = issues[index];
    if (issue) items.push({ kind: 'issue', issue });
    if ((issue && hidesPacket(issue)) || !isGroupRecord(stored)) continue;
    const line = await readGroupRecord(session, stored);
    if (line) items.push({ kind: 'line', line });
    if (line && !isGroupRefusal(line) && line.direction === 'incoming') lastIncoming = stored.seq;
  }
  const record = session.profile.groups?.[group];
  const moved = moveReadMarker(session.profile, record?.readUpTo, lastIncoming, 'this group');
  if (moved.issue) items.push({ kind: 'issue', issue: moved.issue });
  if (record !== undefined && moved.readUpTo !== undefined) record.readUpTo = moved.readUpTo;
  return { items, more: page.more };
}
