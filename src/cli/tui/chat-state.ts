import type { MemberKeyState } from '../groups/group-keyring.js';

/** Where the link to the relay stands, as the chat header shows it. */
export type ConnectionState =
  | { readonly status: 'connecting' }
  | { readonly status: 'connected' }
  | { readonly status: 'reconnecting'; readonly attempt: number }
  | { readonly status: 'offline'; readonly reason: string };

/** The life of one of my messages: queued, stored by the relay, read by a device of the peer, or refused. */
export type OutgoingStatus = 'sending' | 'sent' | 'delivered' | 'failed';

/** How far this device trusts a peer's key. */
export type TrustState = 'unknown' | 'unverified' | 'verified' | 'changed';

/** One line of a conversation: a verified message, or a warning where a packet failed its checks. */
export interface ChatMessage {
  /** The packet id (a warning about a packet keeps that packet's id). */
  readonly id: string;
  /** Position in my stream once the relay has stored it. */
  readonly seq?: number;
  readonly time: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly text?: string;
  /** Set instead of `text` when the packet failed verification: shown in red, never as a message. */
  readonly warning?: string;
  /** Only for my messages. */
  readonly status?: OutgoingStatus;
  /** Why the relay refused a failed message. */
  readonly failure?: string;
  /** In a group: the sender's name, shown instead of the conversation's. */
  readonly sender?: string;
  /** Set instead of `text` for a line of its own that is no message (a group's membership change). */
  readonly info?: string;
  /** A reply: the packet id it quotes. */
  readonly replyTo?: string;
  /** An edit (not shown as a line): the packet id of the message it gives this text to. */
  readonly edits?: string;
  /** A delete (not shown as a line): the packet id of the message it hides. */
  readonly deletes?: string;
  /** Read from the local history already changed: edited, or deleted (text empty). */
  readonly edited?: boolean;
  readonly deleted?: boolean;
}

/** One conversation in the inbox. */
export interface ConversationSummary {
  readonly id: string;
  /** A name no other peer shares (alias, proven username, or short identifier). */
  readonly name: string;
  /** The shortest identifier prefix no other known peer shares. */
  readonly shortId?: string;
  /** Set when this peer looks like another one (that one's name): shown as a warning. */
  readonly lookalike?: string;
  readonly unread: number;
  readonly lastActivity: number;
  readonly online: boolean;
  readonly lastSeen: number | null;
  /** Packets that failed verification: never counted as messages, always flagged. */
  readonly rejected: number;
  readonly trust: TrustState;
}

/** A conversation whose messages are loaded (opened at least once). */
export interface ChatLog {
  readonly peer: string;
  readonly messages: readonly ChatMessage[];
  /** The daemon may hold older messages than the oldest loaded. */
  readonly hasOlder: boolean;
  readonly loadingOlder: boolean;
  /** Shown from this device's local history: the relay's newest page has not come yet. */
  readonly cached?: boolean;
}

/** One group in the inbox: its name, last message (sender named), unread and refused counts. */
export interface GroupSummary {
  readonly group: string;
  /** The name this device read for it, else a short id. */
  readonly name: string;
  readonly unread: number;
  readonly lastActivity: number;
  readonly last: { readonly sender: string; readonly text: string } | null;
  /** Group messages refused (forged, from a non-member, for a head not in the verified log…). */
  readonly rejected: number;
  /** Members whose pinned key changed, by name: they block every send to the group. */
  readonly changed: readonly string[];
}

/** One member as the member list shows it. */
export interface GroupMemberRow {
  readonly identifier: string;
  readonly name: string;
  readonly admin: boolean;
  /** How this device stands with the member's key, checked as a send would check it. */
  readonly state: MemberKeyState;
}

/** An opened group conversation: messages and membership changes by time, and its member list. */
export interface GroupChat {
  readonly group: string;
  readonly messages: readonly ChatMessage[];
  readonly hasOlder: boolean;
  readonly loadingOlder: boolean;
  /** Null until the member list was asked for and checked. */
  readonly members: readonly GroupMemberRow[] | null;
  /** False once I was removed or left (at the verified head). */
  readonly member: boolean;
}

/** Everything the TUI renders: an immutable snapshot, replaced on each change. */
export interface ChatSnapshot {
  readonly me: { readonly identifier: string; readonly username: string };
  readonly connection: ConnectionState;
  readonly conversations: readonly ConversationSummary[];
  readonly chats: ReadonlyMap<string, ChatLog>;
  readonly bell: boolean;
  /** Bumped on each new incoming message, so the view can ring once per message. */
  readonly arrivals: number;
  /** A transient line for the status bar: a refusal, a changed key, an unknown peer. */
  readonly notice: { readonly text: string; readonly tone: 'info' | 'error' } | null;
  /** Set when the screen must close: this device's account was logged out (or replaced) elsewhere. */
  readonly ended: string | null;
  /** The groups this device reads, newest activity first. */
  readonly groups?: readonly GroupSummary[];
  /** The group conversations opened, by group id. */
  readonly groupChats?: ReadonlyMap<string, GroupChat>;
}

function order(message: ChatMessage): number {
  return message.seq ?? Number.MAX_SAFE_INTEGER;
}

/**
 * Adds or replaces messages by packet id, keeping stream order (stored ones by sequence number,
 * unsent ones after them in the order they were written), so a replayed or re-paged packet is never
 * shown twice.
 */
export function mergeMessages(
  current: readonly ChatMessage[],
  incoming: readonly ChatMessage[],
): ChatMessage[] {
  const byId = new Map(current.map((message) => [message.id, message]));
  for (const message of incoming) {
    const known = byId.get(message.id);
    byId.set(message.id, known === undefined ? message : mergeOne(known, message));
  }
  return [...byId.values()].sort((a, b) => order(a) - order(b) || a.time - b.time);
}

/** Once stored, a message never goes back to sending or failed; once delivered, it stays delivered. */
function mergeOne(known: ChatMessage, update: ChatMessage): ChatMessage {
  const stored = known.status === 'sent' || known.status === 'delivered';
  const downgrade =
    (stored && (update.status === 'sending' || update.status === 'failed')) ||
    (known.status === 'delivered' && update.status === 'sent');
  if (!downgrade) return { ...known, ...update };
  const seq = known.seq ?? update.seq;
  return { ...known, ...update, status: known.status, ...(seq === undefined ? {} : { seq }) };
}
