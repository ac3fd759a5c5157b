import { MetaChatError, openPacket, type PublicKey } from '../../core/index.js';
import { PeerBlockedError } from '../cli-errors.js';
import { keepSent, type SendAck } from '../history/keep-sent.js';
import {
  composeMessage,
  markHelloSent,
  messageBody,
  type MessageBody,
} from '../outgoing/compose.js';
import { bodyFields } from '../stream/body-fields.js';
import { refusalOf } from '../outgoing/message-refusal.js';
import { outboxId, saveOutbox, type OutboxEntry } from '../outgoing/outbox.js';
import { RelayRefusedError, RelayTimeoutError } from '../relay/relay-client.js';
import { aboutKey, aboutSend, type ChatContext } from './chat-context.js';
import type { ChatMessage } from './chat-state.js';

/** A rate-limited send is tried again after this pause instead of failing. */
const RATE_LIMIT_PAUSE_MS = 1_000;
/** A send that got no answer while the link stayed up is tried again after this, doubling up to the cap. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

/**
 * The chat screen's sending side. A message is sealed once, when it is written, so its packet ids
 * are fixed; it is kept in outbox.json (ciphertext only) and resent with the same ids on every
 * connection until the relay acknowledges it. A message to a peer whose key was never fetched
 * waits, unsealed and in memory only, until the key arrives.
 */
export class ChatOutbox {
  private readonly entries: OutboxEntry[];
  private readonly unsealed = new Map<string, { peer: string; content: MessageBody }>();
  /** Unsealed messages whose key lookup was refused: failed until Ctrl+R. */
  private readonly failedLocal = new Set<string>();
  private awaitingKey = 0;
  private localCount = 0;
  private flushing = false;
  private retryDelay = RETRY_FIRST_MS;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ctx: ChatContext,
    entries: readonly OutboxEntry[],
  ) {
    this.entries = [...entries];
    for (const entry of this.entries) this.showQueued(entry);
  }

  /**
   * Seals a message (a text, or a reply, edit or delete body) for the peer's pinned key and
   * queues it; false (with a notice) if it cannot be.
   */
  send(peer: string, text: string | MessageBody): boolean {
    const content = messageBody(text);
    const refusal = content.type === 'delete' ? null : refusalOf(content.text);
    if (refusal !== null) {
      this.ctx.say(refusal, 'error');
      return false;
    }
    const { book, session } = this.ctx;
    if (
      peer !== session.account.identifier &&
      (session.profile.peers[peer]?.changedKey !== undefined ||
        session.profile.peers[peer]?.disputed === true)
    ) {
      this.ctx.say(
        `Not sent: the key of ${book.name(peer)} changed. Compare safety numbers with "metachat verify" (another terminal will do), accept with --trust, then send again.`,
        'error',
      );
      // Saving merges the profile on disk: a --trust given in another terminal is picked up.
      this.ctx.saveSoon();
      return false;
    }
    const key = this.ctx.knownKey(peer);
    if (key !== undefined) return this.queue(peer, key, content);
    const local = `local-${String(++this.localCount)}`;
    const time = Date.now();
    this.unsealed.set(local, { peer, content });
    book.touch(peer, time);
    book.update(peer, [
      { id: local, time, direction: 'outgoing', ...bodyFields(content), status: 'sending' },
    ]);
    this.ctx.changed();
    this.sealLater(local);
    return true;
  }

  /** Queues this conversation's failed messages again, with their original packet ids. */
  retry(peer: string): void {
    const { book } = this.ctx;
    const again = ({ failure: _cleared, ...message }: ChatMessage): ChatMessage => ({
      ...message,
      status: 'sending',
    });
    let any = false;
    for (const entry of this.entries) {
      if (entry.peer !== peer || entry.failure === undefined) continue;
      delete entry.failure;
      book.patch(peer, outboxId(entry), again);
      any = true;
    }
    for (const [local, item] of this.unsealed) {
      if (item.peer !== peer) continue;
      this.failedLocal.delete(local);
      book.patch(peer, local, again);
      this.sealLater(local);
      any = true;
    }
    if (!any) return;
    this.persist();
    this.ctx.changed();
    void this.flush();
  }

  /** Whether messages wait for their peer's key or an acknowledgement (failed ones do not). */
  hasPending(): boolean {
    return this.awaitingKey > 0 || this.pending().length > 0;
  }

  /**
   * Sends queued messages in order while online; a drop leaves the rest queued for the next
   * connection, and a send that timed out on a live link is tried again after a growing pause.
   */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    clearTimeout(this.retryTimer);
    try {
      for (let entry = this.pending()[0]; entry && this.ctx.online(); entry = this.pending()[0]) {
        const outcome = await this.sendEntry(entry);
        if (outcome === 'retry-later') {
          if (this.ctx.online()) this.retrySoon();
          break;
        }
        this.retryDelay = RETRY_FIRST_MS;
      }
    } finally {
      this.flushing = false;
    }
  }

  private retrySoon(): void {
    this.retryTimer = setTimeout(() => void this.flush(), this.retryDelay);
    this.retryTimer.unref();
    this.retryDelay = Math.min(this.retryDelay * 2, RETRY_MAX_MS);
  }

  /** Saves the outbox for the next session; returns what is left in it and what was never sealed. */
  async close(): Promise<{ unsent: number; dropped: number }> {
    clearTimeout(this.retryTimer);
    await saveOutbox(this.ctx.session.home, this.entries);
    return { unsent: this.entries.length, dropped: this.unsealed.size };
  }

  private pending(): OutboxEntry[] {
    return this.entries.filter((entry) => entry.failure === undefined);
  }

  /** Seals (fixing the packet ids), queues, persists and starts sending; false (said) if refused. */
  private queue(peer: string, key: PublicKey, content: MessageBody): boolean {
    const { profile, account } = this.ctx.session;
    let composed: ReturnType<typeof composeMessage>;
    try {
      composed = composeMessage(account, profile, peer, key, content);
    } catch (error) {
      if (!(error instanceof MetaChatError)) throw error;
      this.ctx.say(`Not sent: ${error.message}`, 'error');
      return false;
    }
    const { packets, hello } = composed;
    if (hello) markHelloSent(profile, peer);
    const entry: OutboxEntry = { peer, packets: [...packets] };
    this.entries.push(entry);
    this.showQueued(entry, content);
    this.persist();
    this.ctx.changed();
    void this.flush();
    return true;
  }

  /** Seals a message once online and its peer's key is known; counted until then, so Ctrl+C waits. */
  private sealLater(local: string): void {
    this.awaitingKey++;
    this.ctx.whenOnline(async () => {
      try {
        await this.sealWhenKeyKnown(local);
      } finally {
        this.awaitingKey--;
      }
    });
  }

  /** A message to a peer whose key was not known: fetched (and pinned) first, then sealed and queued. */
  private async sealWhenKeyKnown(local: string): Promise<void> {
    const item = this.unsealed.get(local);
    if (!item) return;
    const { book } = this.ctx;
    let key: PublicKey;
    try {
      key = await this.ctx.keyFor(item.peer);
    } catch (error) {
      if (error instanceof RelayTimeoutError) {
        // No answer on a live link: ask again later (a drop re-runs it on reconnect anyway).
        setTimeout(() => this.sealLater(local), RETRY_FIRST_MS).unref();
        return;
      }
      if (!(error instanceof PeerBlockedError || error instanceof RelayRefusedError)) throw error;
      const failure = error.message;
      book.patch(item.peer, local, (message) => ({ ...message, status: 'failed', failure }));
      this.failedLocal.add(local);
      this.ctx.say(
        `Not sent to ${book.name(item.peer)}: ${failure}`,
        'error',
        false,
        aboutSend(item.peer),
      );
      return;
    }
    this.unsealed.delete(local);
    this.failedLocal.delete(local);
    book.remove(item.peer, local);
    this.ctx.saveSoon();
    this.queue(item.peer, key, item.content);
  }

  private async sendEntry(entry: OutboxEntry): Promise<'done' | 'retry-later'> {
    const { book, guard, session } = this.ctx;
    const id = outboxId(entry);
    try {
      const floor = guard.seenUpTo;
      let ack: SendAck = { seq: 0 };
      for (const packet of entry.packets) {
        ack = await session.client.send(packet);
        guard.observe({ seq: ack.seq, packet }, 'own');
      }
      const { seq } = ack;
      this.ctx.remember();
      this.keepSent(entry, ack, floor);
      this.entries.splice(this.entries.indexOf(entry), 1);
      book.patch(entry.peer, id, (message) => ({ ...message, seq, status: 'sent' }));
      this.ctx.settled(aboutKey(entry.peer));
      if (!this.failedFor(entry.peer)) this.ctx.settled(aboutSend(entry.peer));
    } catch (error) {
      if (!(error instanceof RelayRefusedError)) return 'retry-later';
      if (error.code === 'RATE_LIMITED') {
        await new Promise((resolve) => setTimeout(resolve, RATE_LIMIT_PAUSE_MS));
        return 'done';
      }
      const failure = error.message;
      entry.failure = failure;
      book.patch(entry.peer, id, (message) => ({ ...message, status: 'failed', failure }));
      this.ctx.say(
        `Not sent to ${book.name(entry.peer)}: ${failure}`,
        'error',
        false,
        aboutSend(entry.peer),
      );
    }
    this.persist();
    this.ctx.changed();
    return 'done';
  }

  /** Shows a queued message in its conversation; its body comes from opening my own packet. */
  private showQueued(entry: OutboxEntry, known?: MessageBody): void {
    const packet = entry.packets[entry.packets.length - 1];
    if (!packet) return;
    let body = known;
    if (body === undefined) {
      const { account } = this.ctx.session;
      const opened = openPacket({
        packet,
        reader: { identifier: account.identifier, privateKey: account.keyPair.privateKey },
        sender: { identifier: account.identifier, publicKey: account.keyPair.publicKey },
      });
      body = opened.body.type === 'hello' ? messageBody('') : opened.body;
    }
    const message: ChatMessage = {
      id: packet.id,
      time: packet.time,
      direction: 'outgoing',
      ...bodyFields(body),
      status: entry.failure === undefined ? 'sending' : 'failed',
      ...(entry.failure === undefined ? {} : { failure: entry.failure }),
    };
    this.ctx.book.touch(entry.peer, packet.time);
    this.ctx.book.update(entry.peer, [message]);
  }

  /**
   * My message the relay stored, kept in the local history as `send` keeps it (the text shown), at
   * the acknowledged place only if that place can be true (keepSent; `floor`: my mark before it).
   */
  private keepSent(entry: OutboxEntry, ack: SendAck, floor: number): void {
    const packet = entry.packets.at(-1);
    const shown = this.ctx.book.log(entry.peer)?.messages.find((m) => m.id === packet?.id);
    if (packet === undefined || shown?.text === undefined) return;
    const { session } = this.ctx;
    const me = session.account.identifier;
    const { id, time } = packet;
    const line = { seq: ack.seq, id, from: me, to: entry.peer, time, text: shown.text };
    // What it replies to or changes goes with it, for a history that keeps those apart.
    const fields = {
      ...(shown.replyTo === undefined ? {} : { replyTo: shown.replyTo }),
      ...(shown.edits === undefined ? {} : { edits: shown.edits }),
      ...(shown.deletes === undefined ? {} : { deletes: shown.deletes }),
    };
    keepSent(session, ack, { ...line, ...fields, direction: 'outgoing' }, floor);
  }

  /** Whether a message to this peer is still failed (so its notice stays). */
  private failedFor(peer: string): boolean {
    if (this.entries.some((entry) => entry.peer === peer && entry.failure !== undefined))
      return true;
    for (const local of this.failedLocal) if (this.unsealed.get(local)?.peer === peer) return true;
    return false;
  }

  private persist(): void {
    const entries = this.entries.map((entry) => ({ ...entry }));
    this.ctx.saveInOrder(() => saveOutbox(this.ctx.session.home, entries), 'outbox');
  }
}
