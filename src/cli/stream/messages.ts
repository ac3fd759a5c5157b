import {
  isGroupRecord,
  MetaChatError,
  parsePacket,
  type StoredGroupPacket,
  type StreamRecord,
} from '../../core/index.js';
import { openWithMyKeys, verifySender } from './open-with-keys.js';
import { PeerBlockedError } from '../cli-errors.js';
import { senderKey, type SenderKey } from '../profile/peers.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import { keepInHistory } from '../history/history-access.js';
import { bodyFields } from './body-fields.js';

/** One line of a conversation as scripts see it (`--json`), or a warning instead of unverified text. */
export type MessageLine =
  | {
      readonly id: string;
      readonly seq: number;
      readonly from: string;
      readonly to: string;
      readonly time: number;
      readonly text: string;
      readonly direction: 'incoming' | 'outgoing';
      /** A reply: the packet id it quotes. */
      readonly replyTo?: string;
      /** An edit: the packet id it gives new text to (this line's text). */
      readonly edits?: string;
      /** A delete: the packet id it hides (this line's text is empty). */
      readonly deletes?: string;
      /** `listen`, for an edit or delete: what the local history made of it (applied, pending, or a refusal code). */
      readonly state?: string;
    }
  | { readonly id: string; readonly seq: number; readonly warning: string; readonly code: string };

/** True for a line that is a warning, not a message. */
export function isWarning(line: MessageLine): line is Extract<MessageLine, { warning: string }> {
  return 'warning' in line;
}

/**
 * Verifies and decrypts one stored packet with the sender's pinned key. Anything that fails (bad
 * signature, changed key, not for me, undecryptable) becomes a warning line, never text. A verified
 * `hello` records the peer's username and yields no line. The sender's key is pinned only once the
 * packet verified with it, and a name only for a pinned peer: forged packets leave the profile as it
 * was. Mutates the profile; the caller saves it.
 */
/** The warning code of a group message this client skips: it does not show group messages yet. */
export const GROUP_NOT_SHOWN = 'GROUP_NOT_SHOWN';

/**
 * The line in place of a group message (docs/protocol.md 16.5) for a client that cannot show
 * groups yet: a warning with its own code, never an error, and its place is not counted as read.
 */
export function groupNotShown(stored: StoredGroupPacket): MessageLine {
  return {
    id: stored.groupMessage.id,
    seq: stored.seq,
    warning: `A group message (group ${stored.groupMessage.group.slice(0, 8)}…) is in your stream; this command does not show group messages yet, so it is skipped.`,
    code: GROUP_NOT_SHOWN,
  };
}

export async function readStored(
  session: Session,
  stored: StreamRecord,
  keyFor: (identifier: string) => Promise<SenderKey> = (identifier) =>
    senderKey(session.client, session.profile, identifier),
): Promise<MessageLine | null> {
  if (isGroupRecord(stored)) return groupNotShown(stored);
  const { packet } = stored;
  const base = { id: packet.id, seq: stored.seq };
  try {
    const sender = await keyFor(packet.from);
    const { pin } = sender;
    const parsed = parsePacket(packet);
    const opened = openWithMyKeys(session.account, parsed, {
      identifier: packet.from,
      publicKey: verifySender(parsed, sender),
    });
    pin();
    if (opened.body.type === 'hello') {
      const peer = session.profile.peers[packet.from];
      if (peer?.publicKey !== undefined && packet.from !== session.account.identifier) {
        session.profile.peers[packet.from] = { ...peer, username: opened.body.username };
      }
      return null;
    }
    const line = {
      ...base,
      from: packet.from,
      to: packet.to,
      time: packet.time,
      ...bodyFields(opened.body),
      direction: opened.direction,
    };
    // Verified and opened: kept in this device's history, if the command opened it.
    keepInHistory(session, [line]);
    return line;
  } catch (error) {
    if (error instanceof MetaChatError || error instanceof PeerBlockedError) {
      return {
        ...base,
        warning: error.message,
        code: error.code,
      };
    }
    if (error instanceof RelayRefusedError && error.code === 'ACCOUNT_DELETED') {
      return {
        ...base,
        warning:
          'The sender deleted their account and this device never pinned their key; the packet cannot be checked and is not shown.',
        code: error.code,
      };
    }
    if (error instanceof RelayRefusedError && error.code === 'UNKNOWN_IDENTIFIER') {
      return {
        ...base,
        warning: 'The relay has no key for the sender this packet names; it is not shown.',
        code: error.code,
      };
    }
    throw error;
  }
}
