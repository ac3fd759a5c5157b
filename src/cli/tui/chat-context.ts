import type { PublicKey } from '../../core/index.js';
import type { SenderKey } from '../profile/peers.js';
import type { Session } from '../relay/session.js';
import type { StreamGuard } from '../stream/stream-guard.js';
import type { ConversationBook } from './conversation-book.js';

/**
 * What the chat controller shares with the parts it delegates to (the outbox, the stream reader):
 * one session, one conversation book, one stream guard, and the controller's notices and saves.
 */
export interface ChatContext {
  readonly session: Session;
  readonly book: ConversationBook;
  readonly guard: StreamGuard;
  /** Whether the link is authenticated right now. */
  online(): boolean;
  /** The relay's key for a peer, checked against the pin once per connection. */
  keyFor(identifier: string): Promise<PublicKey>;
  /**
   * The key to check a delivered packet with; a stranger's is pinned only by `pin`, once it verified.
   * `fresh` asks the relay again instead of the key checked on this connection (a rotation since).
   */
  senderKey(identifier: string, fresh?: boolean): Promise<SenderKey>;
  /** The key to seal for without asking the relay, if this device has one. */
  knownKey(peer: string): PublicKey | undefined;
  /** Checks a peer's key again (a change becomes a notice). */
  checkKey(peer: string): Promise<void>;
  /**
   * Shows a line in the status bar. `about` names what failed (`send:<peer>`, `key:<peer>`, `save:<file>`,
   * `history:<peer>`), so the line can be forgotten once that thing succeeds (`settled`).
   */
  say(text: string, tone: 'info' | 'error', sticky?: boolean, about?: string): void;
  /** What `about` named now works: a notice still saying it failed leaves the status line. */
  settled(about: string): void;
  /** Publishes a new snapshot soon. */
  changed(): void;
  /**
   * Runs a file write after every write queued before it, so the outbox always reaches the disk
   * before a profile that says its hello was sent; a failure becomes a notice.
   */
  saveInOrder(write: () => Promise<void>, what: string): void;
  /** Saves the profile soon. */
  saveSoon(): void;
  /** Keeps the stream guard's mark in the profile and sends a delivery receipt soon. */
  remember(): void;
  /** Sends a delivery receipt for my stream soon. */
  receiptSoon(): void;
  /** Marks a conversation read. */
  markRead(peer: string): void;
  /** Runs network work now if connected, else right after the next authentication. */
  whenOnline(task: () => Promise<void>): void;
}

/** What a send failure's notice is about: a later send to that peer that works ends it. */
export function aboutSend(peer: string): string {
  return `send:${peer}`;
}

/** What a failed key lookup's notice is about: a later lookup or send that works ends it. */
export function aboutKey(peer: string): string {
  return `key:${peer}`;
}
