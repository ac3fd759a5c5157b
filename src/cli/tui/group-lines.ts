import {
  MetaChatError,
  openGroupMeta,
  type GroupEntry,
  type GroupLog,
  type VerifiedGroupEntry,
} from '../../core/index.js';
import { groupChangeLine } from '../groups/group-change-line.js';
import { isGroupRefusal, type GroupLine } from '../groups/group-reader.js';
import type { Account } from '../relay/account.js';
import type { Profile } from '../profile/profile.js';
import { peerLabel } from '../stream/peer-label.js';
import { oneLine } from '../terminal/terminal-text.js';
import type { ChatMessage } from './chat-state.js';

function names(profile: Profile, ids: readonly string[] | undefined): string {
  return (ids ?? [])
    .map((id) => (id === profile.identifier ? 'me' : peerLabel(profile, id).name))
    .map(oneLine)
    .join(', ');
}

/**
 * A group line (readGroupRecord) as the chat screen shows it: the message with its sender named, a
 * message written for an older membership followed by the same mark `history group:` prints (who
 * could also read it, who cannot), a refusal as a warning with its code, never its text.
 */
export function groupChatLines(
  profile: Profile,
  line: GroupLine,
  serverTime: number,
): ChatMessage[] {
  if (isGroupRefusal(line)) {
    return [
      {
        id: line.id,
        seq: line.seq,
        time: serverTime,
        direction: 'incoming',
        warning: `${line.warning} (${line.code})`,
      },
    ];
  }
  const message: ChatMessage = {
    id: line.id,
    seq: line.seq,
    time: line.time,
    direction: line.direction,
    text: line.text,
    sender: oneLine(line.sender),
    ...(line.direction === 'outgoing' ? { status: 'sent' as const } : {}),
  };
  if (line.current) return [message];
  const could = names(profile, line.formerMembers);
  const cannot = names(profile, line.newMembers);
  const older =
    `written for an older membership (log entry ${String(line.head)}): the sender had not seen the later changes` +
    (could === '' ? '' : `; ${could} could read it too`) +
    (cannot === '' ? '' : `; ${cannot} cannot read it`);
  return [
    message,
    {
      id: `${line.id}:older`,
      seq: line.seq,
      time: line.time,
      direction: 'incoming',
      warning: older,
    },
  ];
}

/** Rename entries already read (one RSA decryption each, not one per screen refresh). */
const renames = new WeakMap<GroupEntry, string | null>();

/** The name a rename gave, read as a member at that entry (undefined: not one then, or unreadable). */
function renamedTo(log: GroupLog, index: number, account: Account): string | undefined {
  const entry = log.entries[index]?.entry;
  if (entry === undefined) return undefined;
  const known = renames.get(entry);
  if (known !== undefined) return known ?? undefined;
  const name = readRename(log, index, account);
  renames.set(entry, name ?? null);
  return name;
}

function readRename(log: GroupLog, index: number, account: Account): string | undefined {
  try {
    const meta = openGroupMeta(
      { group: log.group, entries: log.entries.slice(0, index + 1) },
      { identifier: account.identifier, privateKey: account.keyPair.privateKey },
    );
    return meta.name;
  } catch (error) {
    if (error instanceof MetaChatError) return undefined;
    throw error;
  }
}

/** A membership change as a line of its own: "alice added carol", "bob left", "alice renamed the group to X". */
export function groupChangeText(
  profile: Profile,
  account: Account,
  log: GroupLog,
  verified: VerifiedGroupEntry,
): string {
  const text = groupChangeLine(profile, verified.entry);
  if (verified.entry.op !== 'rename') return text;
  const name = renamedTo(log, verified.index, account);
  return name === undefined ? text : `${text} to ${oneLine(name)}`;
}

/** The log's membership changes from `since` (author's time) on, as lines of the conversation. */
export function groupChangeLines(
  profile: Profile,
  account: Account,
  log: GroupLog,
  since: number,
): ChatMessage[] {
  return log.entries
    .filter((verified) => verified.entry.time >= since)
    .map((verified) => ({
      id: `entry:${String(verified.index)}`,
      time: verified.entry.time,
      direction: 'incoming' as const,
      info: groupChangeText(profile, account, log, verified),
    }));
}
