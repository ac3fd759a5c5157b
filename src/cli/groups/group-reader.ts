import {
  GroupHeadUnknownError,
  groupConversation,
  MetaChatError,
  openGroupMessage,
  type GroupLog,
  type OpenedGroupPacket,
  type StoredGroupPacket,
} from '../../core/index.js';
import { KeyChangedError } from '../cli-errors.js';
import { keepInHistory, type HistoryHolder } from '../history/history-access.js';
import type { HistoryMessage } from '../history/history-message.js';
import {
  beforeDeparture,
  heldGroupLog,
  heldGroupName,
  GroupStoreFullError,
  streamPlaceKnown,
  TooManyGroupsError,
} from '../profile/group-store.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { bodyFields } from '../stream/body-fields.js';
import { peerLabel } from '../stream/peer-label.js';
import { GroupKeyring } from './group-keyring.js';
import { syncGroupLog } from './group-sync.js';

/** One group message as scripts see it (`--json`): who wrote what to which group. */
export interface GroupMessageLine {
  readonly id: string;
  readonly seq: number;
  readonly group: string;
  /** The group's name as this device read it (null: none read yet). */
  readonly name: string | null;
  readonly from: string;
  /** The sender as this device names it: "me", else the label no other peer shares. */
  readonly sender: string;
  readonly time: number;
  readonly text: string;
  readonly direction: 'incoming' | 'outgoing';
  /** A reply: the packet id it quotes. */
  readonly replyTo?: string;
  /** An edit: the packet id it gives new text to (this line's text). */
  readonly edits?: string;
  /** A delete: the packet id it hides (this line's text is empty). */
  readonly deletes?: string;
  /** The log entry the sender encrypted for. */
  readonly head: number;
  /** False: the sender had not seen later changes of the log (docs/protocol.md 16.5 step 7). */
  readonly current: boolean;
  /** Only when not current: members at the sender's head who are not members now (they could read it). */
  readonly formerMembers?: readonly string[];
  /** Only when not current: members now who were not at the sender's head (they cannot read it). */
  readonly newMembers?: readonly string[];
}

/** A group message that was refused, in its place: its code, never its text. */
export interface GroupRefusedLine {
  readonly id: string;
  readonly seq: number;
  readonly group: string;
  readonly warning: string;
  readonly code: string;
}

/** What reading one group record gives (null: a verified `hello`, which is no line). */
export type GroupLine = GroupMessageLine | GroupRefusedLine;

/** True for a group line that is a refusal. */
export function isGroupRefusal(line: GroupLine): line is GroupRefusedLine {
  return 'warning' in line;
}

/** A refusal this reader reports as a line: the protocol's checks, a changed key, an unknown key. */
function refusalCode(error: unknown): string | undefined {
  if (error instanceof MetaChatError) return error.code;
  if (error instanceof KeyChangedError) return 'KEY_CHANGED';
  if (error instanceof RelayRefusedError) return error.code;
  // Anyone can make groups that list me: one past the profile's cap is a refused line, not a failure.
  if (error instanceof TooManyGroupsError) return 'TOO_MANY_GROUPS';
  if (error instanceof GroupStoreFullError) return 'GROUP_STORE_FULL';
  return undefined;
}

/** Keeps a verified, opened group message in the session's open history, if any, under `group:<id>`. */
function keepGroupLine(holder: HistoryHolder, line: GroupMessageLine): void {
  const kept: HistoryMessage = {
    seq: line.seq,
    id: line.id,
    from: line.from,
    to: groupConversation(line.group),
    time: line.time,
    text: line.text,
    direction: line.direction,
    ...(line.replyTo === undefined ? {} : { replyTo: line.replyTo }),
    ...(line.edits === undefined ? {} : { edits: line.edits }),
    ...(line.deletes === undefined ? {} : { deletes: line.deletes }),
  };
  keepInHistory(holder, [kept]);
}

/**
 * Opens a group record through core's checks (docs/protocol.md 16.5): the signature under the
 * sender's pinned key (or, for a member never met, the relay's key, kept only if the log names
 * it), the head in the log this device verified, the sender a member there and at this device's
 * head. A head this device does not hold makes it fetch the group's log from its own head and
 * verify it (16.4) first, then try once more; nothing is shown before. Every refusal becomes a
 * line with its code. A verified `hello` records the sender's username (for a pinned sender) and
 * gives no line. A message that opened is kept in the local history (if open) under the group.
 * Mutates the profile; the caller saves it.
 */
export async function readGroupRecord(
  session: Session,
  stored: StoredGroupPacket,
): Promise<GroupLine | null> {
  const message = stored.groupMessage;
  const base = { id: message.id, seq: stored.seq, group: message.group };
  const keyring = new GroupKeyring(session);
  const { identifier } = session.account;
  const open = (log: GroupLog): Promise<OpenedGroupPacket> =>
    keyring.retried([message.from], () =>
      openGroupMessage({
        packet: message,
        reader: keyring.readerKeys(),
        log,
        keyOf: keyring.lookup,
        replacedOf: keyring.replacedOf,
        precedesDeparture: (index) =>
          beforeDeparture(session.profile, message.group, index, stored.seq),
      }),
    );
  let opened: OpenedGroupPacket;
  try {
    await keyring.prefetch([message.from]);
    const held = heldGroupLog(session.profile, message.group);
    try {
      opened = await open(held ?? { group: message.group, entries: [] });
    } catch (error) {
      if (!(error instanceof GroupHeadUnknownError)) throw error;
      // Departures learnt from this record's fetch come after the places before it, not before it.
      const mark = Math.max(streamPlaceKnown(session.profile), stored.seq - 1);
      opened = await open(await syncGroupLog(session, keyring, message.group, mark));
    }
    keyring.pinMembers(opened.head);
  } catch (error) {
    const code = refusalCode(error);
    if (code === undefined || !(error instanceof Error)) throw error;
    return { ...base, warning: error.message, code };
  }
  if (opened.body.type === 'hello') {
    const peer = session.profile.peers[message.from];
    if (peer?.publicKey !== undefined && message.from !== identifier)
      session.profile.peers[message.from] = { ...peer, username: opened.body.username };
    return null;
  }
  const line: GroupMessageLine = {
    ...base,
    name: heldGroupName(session.profile, message.group) ?? null,
    from: message.from,
    sender: message.from === identifier ? 'me' : peerLabel(session.profile, message.from).name,
    time: message.time,
    ...bodyFields(opened.body),
    direction: opened.direction,
    head: opened.head.index,
    current: opened.current,
    ...(opened.current
      ? {}
      : { formerMembers: opened.formerMembers, newMembers: opened.newMembers }),
  };
  // Verified and opened: kept in this device's history, if the command opened it.
  keepGroupLine(session, line);
  return line;
}
