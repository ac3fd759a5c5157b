import type { StoredGroupPacket } from '../../core/index.js';
import { isGroupRefusal, readGroupRecord, type GroupMessageLine } from '../groups/group-reader.js';
import { heldGroupName } from '../profile/group-store.js';
import type { Session } from '../relay/session.js';

/** What the inbox scan counts of one group while it reads the stream. */
export interface GroupTally {
  unread: number;
  lastActivity: number;
  rejected: number;
  last: GroupMessageLine | null;
}

/** One group in the inbox: its last message, unread count and refused messages. */
export interface GroupInboxEntry {
  readonly group: string;
  readonly name: string | null;
  readonly unread: number;
  readonly lastActivity: number;
  /** The last message shown: who wrote what (null: none verified yet). */
  readonly last: { readonly from: string; readonly sender: string; readonly text: string } | null;
  /** Group messages refused (forged, from a removed member, for a head not in the verified log…). */
  readonly rejected: number;
}

/**
 * Opens one group record of the stream (readGroupRecord) into its group's tally: the last message,
 * unread if incoming after the group's read marker (that `history group:<g>` moves), or a refusal
 * counted. Answers whether it verified (only then does its place count).
 */
export async function tallyGroup(
  session: Session,
  tallies: Map<string, GroupTally>,
  stored: StoredGroupPacket,
): Promise<boolean> {
  const group = stored.groupMessage.group;
  const line = await readGroupRecord(session, stored);
  const tally = tallies.get(group) ?? { unread: 0, lastActivity: 0, rejected: 0, last: null };
  tallies.set(group, tally);
  if (line !== null && isGroupRefusal(line)) {
    tally.rejected++;
    return false;
  }
  tally.lastActivity = Math.max(tally.lastActivity, stored.serverTime);
  if (line === null) return true;
  // An edit or a delete changes an earlier message: it is not the group's last message.
  if (line.edits !== undefined || line.deletes !== undefined) return true;
  tally.last = line;
  const readUpTo = session.profile.groups?.[group]?.readUpTo ?? 0;
  if (line.direction === 'incoming' && stored.seq > readUpTo) tally.unread++;
  return true;
}

/** The groups of an inbox scan, newest activity first. */
export function groupEntries(
  session: Session,
  tallies: ReadonlyMap<string, GroupTally>,
): GroupInboxEntry[] {
  const list = [...tallies].map(([group, tally]) => ({
    group,
    name: heldGroupName(session.profile, group) ?? null,
    unread: tally.unread,
    lastActivity: tally.lastActivity,
    last:
      tally.last === null
        ? null
        : { from: tally.last.from, sender: tally.last.sender, text: tally.last.text },
    rejected: tally.rejected,
  }));
  list.sort((a, b) => b.lastActivity - a.lastActivity);
  return list;
}
