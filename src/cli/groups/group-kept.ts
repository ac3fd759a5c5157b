// Group messages in the local history: kept once verified and opened, read back when the relay is not.

import { groupConversation } from '../../core/index.js';
import type { HistoryMessage } from '../history/history-message.js';
import type { HistoryStore } from '../history/history-store.js';
import { heldGroupName } from '../profile/group-store.js';
import type { Profile } from '../profile/profile.js';
import { peerLabel } from '../stream/peer-label.js';
import { GROUP_TARGET_PREFIX } from './group-address.js';
import type { HeldGroupLine, ShownGroupLine } from './group-present.js';
import { isGroupRefusal, type GroupLine } from './group-reader.js';

/** The conversation a group's messages are kept under: `group:<64-hex id>` (no peer address holds a colon). */
export function groupHistoryKey(group: string): string {
  return groupConversation(group);
}

/** A kept group message as shown: the group's name and the sender as this device names them. */
export function heldGroupLine(
  profile: Profile,
  group: string,
  held: HistoryMessage,
): HeldGroupLine {
  return {
    id: held.id,
    seq: held.seq,
    group,
    name: heldGroupName(profile, group) ?? null,
    from: held.from,
    sender: held.from === profile.identifier ? 'me' : peerLabel(profile, held.from).name,
    time: held.time,
    text: held.text,
    direction: held.direction,
    ...(held.replyTo === undefined ? {} : { replyTo: held.replyTo }),
    ...(held.edited === true ? { edited: true, editedAt: held.editedAt ?? 0 } : {}),
    ...(held.deleted === true ? { deleted: true, deletedAt: held.deletedAt ?? 0 } : {}),
    held: true,
  };
}

/** A search hit of a group's conversation as scripts see it: the group, its name, the sender named. */
export function groupSearchHit(
  profile: Profile,
  hit: HistoryMessage & { readonly peer: string },
): Omit<HeldGroupLine, 'held'> & { readonly peer: string } {
  const { held: _held, ...fields } = heldGroupLine(
    profile,
    hit.peer.slice(GROUP_TARGET_PREFIX.length),
    hit,
  );
  return { ...fields, peer: hit.peer };
}

/** The last `limit` kept messages of a group before `before`, oldest first, and whether older ones are kept. */
export function heldGroupPage(
  profile: Profile,
  history: HistoryStore,
  group: string,
  limit: number,
  before?: number,
): { lines: HeldGroupLine[]; more: boolean } {
  const { messages, more } = history.page(groupHistoryKey(group), limit, before);
  return { lines: messages.map((held) => heldGroupLine(profile, group, held)), more };
}

/**
 * A page's shown lines with what the local history knows beyond the page: an edit or delete kept
 * from another page (its target here) applied by the same core rules the history settled it by.
 */
export function withHeldChanges(
  lines: readonly GroupLine[],
  history: HistoryStore | undefined,
): GroupLine[] {
  if (history === undefined) return [...lines];
  return lines.map((line): GroupLine => {
    if (isGroupRefusal(line)) return line;
    const held = history.at(line.seq);
    if (held === undefined || held.id !== line.id || held.from !== line.from) return line;
    let shown: ShownGroupLine = line;
    if (held.deleted === true)
      shown = { ...line, text: '', deleted: true, deletedAt: held.deletedAt ?? 0 };
    else if (held.edited === true)
      shown = { ...line, text: held.text, edited: true, editedAt: held.editedAt ?? 0 };
    return shown;
  });
}
