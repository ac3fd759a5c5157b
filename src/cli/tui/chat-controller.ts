import {
  importPublicKey,
  MetaChatError,
  openPacket,
  verifyPacketSignature,
  type PublicKey,
  type StoredPacket,
} from '../../core/index.js';
import type { Account } from '../account.js';
import { KeyChangedError, UnknownPeerError } from '../cli-errors.js';
import { composeMessage, markHelloSent } from '../compose.js';
import { isWarning, readStored } from '../messages.js';
import { followStream, type StreamFollower, type StreamItem } from '../stream-follower.js';
import { checkHistoryPage, hidesPacket, StreamGuard, type StreamIssue } from '../stream-guard.js';
import { outboxId, saveOutbox, type OutboxEntry } from '../outbox.js';
import { parsePeerAddress, peerKey, type PeerAddress } from '../peers.js';
import { saveProfile, type Profile } from '../profile.js';
import { RelayRefusedError, type RelayClient } from '../relay-client.js';
import type { Session } from '../session.js';
import { ConversationBook, trustOf } from './conversation-book.js';
import type { ChatMessage, ChatSnapshot, ConnectionState, TrustState } from './chat-state.js';
import { RelayLink } from './relay-link.js';

/** Messages per history page in the chat view. */
const PAGE = 50;
/** How long Ctrl+C waits for queued messages to be acknowledged before leaving them queued. */
const FLUSH_MS = 5_000;
/** How long a notice stays in the status line. */
const NOTICE_MS = 8_000;
/** A rate-limited send is tried again after this pause instead of failing. */
const RATE_LIMIT_PAUSE_MS = 1_000;

/** What the TUI needs to run: an unlocked account, its profile and a not-yet-connected client. */
export interface ChatControllerOptions {
  readonly home: string;
  readonly profile: Profile;
  readonly account: Account;
  readonly client: RelayClient;
  readonly outbox: readonly OutboxEntry[];
}

/**
 * The TUI's model, outside React: it keeps the link to the relay, verifies and decrypts every packet
 * (a failure becomes a warning line), keeps the outbox (sealed once, resent with the same ids until
 * acknowledged) and publishes immutable snapshots for `useSyncExternalStore`.
 */
export class ChatController {
  private readonly book: ConversationBook;
  private readonly link: RelayLink;
  private readonly session: Session;
  private readonly keys = new Map<string, PublicKey>();
  private readonly outbox: OutboxEntry[];
  private readonly listeners = new Set<() => void>();
  private snapshot: ChatSnapshot;
  private connection: ConnectionState = { status: 'connecting' };
  private notice: ChatSnapshot['notice'] = null;
  private work: Promise<void> = Promise.resolve();
  private flushing = false;
  private emitScheduled = false;
  private receiptTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private follower: StreamFollower | undefined;
  /** True once the first catch-up is done: from then on packets are new, shown, and ring the bell. */
  private following = false;
  private readonly guard: StreamGuard;
  private localCount = 0;
  /** Messages written to a peer whose key is not known yet: sealed once it is fetched. */
  private readonly unsealed = new Map<string, { peer: string; text: string }>();
  private readonly onlineTasks: (() => Promise<void>)[] = [];

  constructor(options: ChatControllerOptions) {
    this.session = {
      home: options.home,
      profile: options.profile,
      account: options.account,
      client: options.client,
    };
    this.outbox = [...options.outbox];
    this.guard = new StreamGuard({
      seenUpTo: options.profile.seenUpTo,
      remembered: options.profile.recentPackets,
    });
    this.book = new ConversationBook(options.account.identifier, options.profile);
    this.link = new RelayLink(options.client, options.account, {
      onState: (state) => {
        this.connection = state;
        this.changed();
      },
      onAuthenticated: () => {
        this.serial(() => this.catchUp());
        for (const task of this.onlineTasks.splice(0)) this.serial(task);
        this.keys.clear();
        void this.flush();
      },
    });
    for (const entry of this.outbox) this.showQueued(entry);
    this.snapshot = this.build();
  }

  /** For useSyncExternalStore. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** For useSyncExternalStore: the same object until something changes. */
  readonly getSnapshot = (): ChatSnapshot => this.snapshot;

  /** Subscribes to pushes and starts connecting. */
  start(): void {
    const { client } = this.session;
    client.on('presence', (update) => {
      this.book.presence(update);
      this.changed();
    });
    client.on('delivered', (notice) => {
      this.book.patch(notice.to, notice.id, (message) => ({ ...message, status: 'delivered' }));
      this.changed();
    });
    client.on('invalid', (event) => {
      this.say(`The relay sent a malformed "${event}" push; it was ignored.`, 'error');
    });
    this.link.start();
  }

  /** Opens a conversation: marks it read, checks the peer's key, loads its last page. */
  openChat(peer: string): void {
    this.book.setActive(peer);
    this.markRead(peer);
    this.changed();
    if (this.link.online) {
      this.serial(async () => {
        await this.checkKey(peer);
        if (!this.book.isLoaded(peer)) await this.loadPage(peer, undefined);
      });
    }
  }

  /**
   * The identifier a typed address names (identifier, id#fingerprint, alias, known username), or
   * null with a notice. A fingerprint is checked against the relay's key before the chat opens.
   */
  resolve(text: string): string | null {
    let address: PeerAddress;
    try {
      address = parsePeerAddress(text, this.session.profile);
    } catch (error) {
      if (!(error instanceof UnknownPeerError)) throw error;
      this.say(error.message, 'error');
      return null;
    }
    const { fingerprint, identifier } = address;
    if (fingerprint === undefined) return identifier;
    this.whenOnline(async () => {
      try {
        await peerKey(this.session.client, this.session.profile, address);
      } catch (error) {
        if (!(error instanceof KeyChangedError)) throw error;
        this.say(error.message, 'error');
        return;
      }
      const record = this.session.profile.peers[identifier] ?? {};
      this.session.profile.peers[identifier] = { ...record, verified: true };
      this.say('Key matches the fingerprint you gave: verified.', 'info');
      this.saveSoon();
    });
    return identifier;
  }

  /** The name the views show for a peer. */
  nameOf(peer: string): string {
    return this.book.name(peer);
  }

  /** How far this device trusts a peer's key. */
  trustOf(peer: string): TrustState {
    return trustOf(this.session.profile, peer);
  }

  /** Back to the inbox. */
  closeChat(): void {
    this.book.setActive(null);
    this.changed();
  }

  /** PageUp at the top: the page before the oldest loaded message. */
  loadOlder(peer: string): void {
    const log = this.book.log(peer);
    if (!this.link.online || log?.loadingOlder === true || log?.hasOlder === false) return;
    const oldest = log?.messages.find((message) => message.seq !== undefined)?.seq;
    this.book.setLoading(peer, true);
    this.changed();
    this.serial(() => this.loadPage(peer, oldest));
  }

  /** Seals a message for the peer's pinned key and queues it; false (with a notice) if it cannot be. */
  send(peer: string, text: string): boolean {
    if (text.trim().length === 0) return false;
    const { profile } = this.session;
    const record = profile.peers[peer];
    if (record?.changedKey !== undefined) {
      this.say(
        `Not sent: the key of ${this.book.name(peer)} changed. Compare safety numbers with "metachat verify", then accept with --trust.`,
        'error',
      );
      return false;
    }
    const key = this.knownKey(peer);
    if (key === undefined) {
      const local = `local-${String(++this.localCount)}`;
      const time = Date.now();
      this.unsealed.set(local, { peer, text });
      this.book.touch(peer, time);
      this.book.update(peer, [{ id: local, time, direction: 'outgoing', text, status: 'sending' }]);
      this.changed();
      this.whenOnline(() => this.sealWhenKeyKnown(local));
      return true;
    }
    this.queue(peer, key, text);
    return true;
  }

  /** The key to seal for without asking the relay: the one checked this connection, or the pin. */
  private knownKey(peer: string): PublicKey | undefined {
    const { profile, account } = this.session;
    if (peer === account.identifier) return account.keyPair.publicKey;
    const pinned = profile.peers[peer]?.publicKey;
    return this.keys.get(peer) ?? (pinned === undefined ? undefined : importPublicKey(pinned));
  }

  /** Seals (fixing the packet ids), queues, persists and starts sending. */
  private queue(peer: string, key: PublicKey, text: string): void {
    const { profile, account } = this.session;
    const { packets, hello } = composeMessage(account, profile, peer, key, text);
    if (hello) markHelloSent(profile, peer);
    const entry: OutboxEntry = { peer, packets: [...packets] };
    this.outbox.push(entry);
    this.showQueued(entry, text);
    this.persist();
    this.changed();
    void this.flush();
  }

  /** A message to a peer whose key was not known: fetched (and pinned) first, then sealed and queued. */
  private async sealWhenKeyKnown(local: string): Promise<void> {
    const item = this.unsealed.get(local);
    if (!item) return;
    let key: PublicKey;
    try {
      key = await this.keyFor(item.peer);
    } catch (error) {
      if (!(error instanceof KeyChangedError || error instanceof RelayRefusedError)) throw error;
      const failure = error.message;
      this.book.patch(item.peer, local, (message) => ({ ...message, status: 'failed', failure }));
      this.say(`Not sent to ${this.book.name(item.peer)}: ${failure}`, 'error');
      return;
    }
    this.unsealed.delete(local);
    this.book.remove(item.peer, local);
    this.saveSoon();
    this.queue(item.peer, key, item.text);
  }

  /** Queues this conversation's failed messages again, with their original packet ids. */
  retry(peer: string): void {
    let any = false;
    for (const entry of this.outbox) {
      if (entry.peer !== peer || entry.failure === undefined) continue;
      delete entry.failure;
      this.book.patch(peer, outboxId(entry), ({ failure: _cleared, ...message }) => ({
        ...message,
        status: 'sending',
      }));
      any = true;
    }
    for (const [local, item] of this.unsealed) {
      if (item.peer !== peer) continue;
      this.book.patch(peer, local, ({ failure: _cleared, ...message }) => ({
        ...message,
        status: 'sending',
      }));
      this.whenOnline(() => this.sealWhenKeyKnown(local));
      any = true;
    }
    if (!any) return;
    this.persist();
    this.changed();
    void this.flush();
  }

  /** Turns the bell on or off, and remembers it in the profile. */
  toggleBell(): void {
    this.session.profile.bell = !(this.session.profile.bell ?? true);
    this.say(`Bell ${this.session.profile.bell ? 'on' : 'off'}.`, 'info');
    this.saveSoon();
  }

  /** Shows a line in the status bar. */
  say(text: string, tone: 'info' | 'error', sticky = false): void {
    const notice = { text, tone };
    this.notice = notice;
    this.changed();
    if (sticky) return;
    setTimeout(() => {
      if (this.notice !== notice) return;
      this.notice = null;
      this.changed();
    }, NOTICE_MS).unref();
  }

  /** Ctrl+C: waits (bounded) for queued messages to be acknowledged, saves everything, disconnects. */
  async shutdown(): Promise<{ unsent: number; dropped: number }> {
    const deadline = Date.now() + FLUSH_MS;
    while (this.link.online && this.pending().length > 0 && Date.now() < deadline) {
      await this.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearTimeout(this.saveTimer);
    clearTimeout(this.receiptTimer);
    await this.work.catch(() => undefined);
    this.link.stop();
    await this.saving;
    await saveOutbox(this.session.home, this.outbox);
    await saveProfile(this.session.home, this.session.profile);
    return { unsent: this.outbox.length, dropped: this.unsealed.size };
  }

  private pending(): OutboxEntry[] {
    return this.outbox.filter((entry) => entry.failure === undefined);
  }

  /** Sends queued messages in order while online; a drop leaves the rest queued for the next connection. */
  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (let entry = this.pending()[0]; entry && this.link.online; entry = this.pending()[0]) {
        const outcome = await this.sendEntry(entry);
        if (outcome === 'retry-later') break;
      }
    } finally {
      this.flushing = false;
    }
  }

  private async sendEntry(entry: OutboxEntry): Promise<'done' | 'retry-later'> {
    const id = outboxId(entry);
    try {
      let seq = 0;
      for (const packet of entry.packets) {
        seq = (await this.session.client.send(packet)).seq;
        this.guard.observe({ seq, packet }, 'own');
      }
      this.remember();
      this.outbox.splice(this.outbox.indexOf(entry), 1);
      this.book.patch(entry.peer, id, (message) => ({ ...message, seq, status: 'sent' }));
    } catch (error) {
      if (!(error instanceof RelayRefusedError)) return 'retry-later';
      if (error.code === 'RATE_LIMITED') {
        await new Promise((resolve) => setTimeout(resolve, RATE_LIMIT_PAUSE_MS));
        return 'done';
      }
      entry.failure = error.message;
      const failure = error.message;
      this.book.patch(entry.peer, id, (message) => ({ ...message, status: 'failed', failure }));
      this.say(`Not sent to ${this.book.name(entry.peer)}: ${error.message}`, 'error');
    }
    this.persist();
    this.changed();
    return 'done';
  }

  /** Shows a queued message in its conversation; its text comes from opening my own packet. */
  private showQueued(entry: OutboxEntry, known?: string): void {
    const packet = entry.packets[entry.packets.length - 1];
    if (!packet) return;
    let text = known;
    if (text === undefined) {
      const { account } = this.session;
      const opened = openPacket({
        packet,
        reader: { identifier: account.identifier, privateKey: account.keyPair.privateKey },
        sender: { identifier: account.identifier, publicKey: account.keyPair.publicKey },
      });
      text = opened.body.type === 'text' ? opened.body.text : '';
    }
    const message: ChatMessage = {
      id: packet.id,
      time: packet.time,
      direction: 'outgoing',
      text,
      status: entry.failure === undefined ? 'sending' : 'failed',
      ...(entry.failure === undefined ? {} : { failure: entry.failure }),
    };
    this.book.touch(entry.peer, packet.time);
    this.book.update(entry.peer, [message]);
  }

  /**
   * After each (re)connection. The first time: count what this device saw in earlier sessions (for
   * the inbox), then follow the stream from its mark with the stream guard, which reports withheld,
   * reordered and replayed packets. Later: catch up with what was sent while away.
   */
  private async catchUp(): Promise<void> {
    if (this.follower === undefined) {
      await this.countSeen();
      this.follower = await followStream(this.session.client, this.guard, (item) =>
        this.take(item),
      );
      this.following = true;
    } else {
      await this.follower.resync();
    }
    this.remember();
    const active = this.book.active();
    if (active !== null) {
      await this.checkKey(active);
      if (!this.book.isLoaded(active)) await this.loadPage(active, undefined);
    }
    this.changed();
  }

  /** The packets this device saw before (up to its mark): counted for the inbox, signatures checked. */
  private async countSeen(): Promise<void> {
    const upTo = this.guard.seenUpTo;
    for (let after = 0; after < upTo;) {
      const page = await this.session.client.sync(after, 500);
      for (const stored of page.packets) {
        if (stored.seq > upTo) return;
        await this.ingest(stored, false);
      }
      const last = page.packets.at(-1)?.seq ?? after;
      if (!page.more || last <= after) return;
      after = last;
    }
  }

  /** One item from the stream follower: a packet to verify and show, or a warning about the stream. */
  private async take(item: StreamItem): Promise<void> {
    if (item.kind === 'packet') await this.ingest(item.stored, this.following);
    if (item.issue) this.streamIssue(item.issue, item.stored);
    this.remember();
  }

  /** A lie about the stream: a loud, lasting notice, and a warning line where it happened. */
  private streamIssue(issue: StreamIssue, stored: StoredPacket | undefined): void {
    this.say(issue.message, 'error', true);
    if (stored === undefined) return;
    const me = this.session.account.identifier;
    const peer = stored.packet.from === me ? stored.packet.to : stored.packet.from;
    if (issue.code !== 'STREAM_REORDERED') this.book.rejected(peer);
    this.book.update(
      peer,
      [
        {
          id: `${issue.code}:${String(stored.seq)}`,
          seq: stored.seq,
          time: stored.serverTime,
          direction: 'incoming',
          warning: issue.message,
        },
      ],
      true,
    );
  }

  /** Keeps the guard's mark and memory in the profile, so the next session checks from there. */
  private remember(): void {
    this.session.profile.seenUpTo = this.guard.seenUpTo;
    this.session.profile.recentPackets = this.guard.rememberedPackets();
    this.receiptSoon();
    this.saveSoon();
  }

  /**
   * One packet of my stream. The first sync only checks signatures (cheap, so a long history loads
   * fast) and decrypts each peer's first packet, where the username exchange rides; conversations
   * load their messages page by page when opened. Later packets are verified and decrypted, ring
   * the bell, and join their conversation if it is on screen.
   */
  private async ingest(stored: StoredPacket, live: boolean): Promise<void> {
    const { packet } = stored;
    const me = this.session.account.identifier;
    const peer = packet.from === me ? packet.to : packet.from;
    if (!this.book.count(stored)) return;
    if (!live && !this.book.firstFrom(peer, stored)) {
      try {
        verifyPacketSignature(packet, await this.keyFor(packet.from));
        this.book.counted(peer, stored, this.session.profile);
      } catch (error) {
        if (!(error instanceof MetaChatError || error instanceof KeyChangedError)) throw error;
        this.book.rejected(peer);
      }
    } else {
      const line = await readStored(this.session, stored, (id) => this.keyFor(id));
      if (line === null) this.book.touch(peer, stored.serverTime);
      else if (isWarning(line)) this.book.rejected(peer);
      else this.book.counted(peer, stored, this.session.profile);
      if (line !== null && live) {
        this.book.update(peer, [this.book.toMessage(line, stored)], true);
      }
      if (line !== null && !isWarning(line) && line.direction === 'incoming' && live) {
        this.book.arrived();
      }
    }
    if (this.book.active() === peer) this.markRead(peer);
    this.receiptSoon();
    this.saveSoon();
    this.changed();
  }

  private async loadPage(peer: string, before: number | undefined): Promise<void> {
    try {
      const page = await this.session.client.history(peer, before, PAGE);
      const issues = checkHistoryPage(
        {
          me: this.session.account.identifier,
          peer,
          before,
          remembered: this.guard.rememberedPackets(),
        },
        page.packets,
      );
      const messages: ChatMessage[] = [];
      for (const [index, stored] of page.packets.entries()) {
        const issue = issues[index];
        if (issue !== undefined) {
          this.say(issue.message, 'error', true);
          const warning = { id: `${issue.code}:${String(stored.seq)}`, warning: issue.message };
          messages.push({
            ...warning,
            seq: stored.seq,
            time: stored.serverTime,
            direction: 'incoming',
          });
          if (hidesPacket(issue)) continue;
        }
        const line = await readStored(this.session, stored, (id) => this.keyFor(id));
        if (line !== null) messages.push(this.book.toMessage(line, stored));
      }
      this.book.loaded(peer, messages, page.more);
      this.markRead(peer);
      this.saveSoon();
    } catch (error) {
      this.book.setLoading(peer, false);
      this.say(`Could not load the history: ${(error as Error).message}`, 'error');
    }
    this.changed();
  }

  /** The relay's key for a peer, checked against the pin once per connection (a change is loud). */
  private async keyFor(identifier: string): Promise<PublicKey> {
    const cached = this.keys.get(identifier);
    if (cached) return cached;
    const key = await peerKey(this.session.client, this.session.profile, { identifier });
    this.keys.set(identifier, key);
    return key;
  }

  private async checkKey(peer: string): Promise<void> {
    this.keys.delete(peer);
    try {
      await this.keyFor(peer);
    } catch (error) {
      if (error instanceof KeyChangedError || error instanceof RelayRefusedError) {
        this.say(error.message, 'error');
      } else throw error;
    }
    this.saveSoon();
  }

  private markRead(peer: string): void {
    this.book.markRead(peer, this.session.profile);
    this.saveSoon();
  }

  /** Tells the relay this device holds my stream up to its cursor, so senders see "delivered". */
  private receiptSoon(): void {
    if (this.receiptTimer !== undefined) return;
    this.receiptTimer = setTimeout(() => {
      this.receiptTimer = undefined;
      const upTo = this.guard.seenUpTo;
      if (upTo > 0 && this.link.online) this.session.client.receipt(upTo).catch(() => undefined);
    }, 100);
  }

  private persist(): void {
    const entries = this.outbox.map((entry) => ({ ...entry }));
    this.saving = this.saving
      .then(() => saveOutbox(this.session.home, entries))
      .catch((error: unknown) => {
        this.say(`Could not save the outbox: ${(error as Error).message}`, 'error');
      });
  }

  private saveSoon(): void {
    if (this.saveTimer !== undefined) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saving = this.saving
        .then(() => saveProfile(this.session.home, this.session.profile))
        .catch((error: unknown) => {
          this.say(`Could not save the profile: ${(error as Error).message}`, 'error');
        });
    }, 250);
  }

  /** Runs a task now if connected, else right after the next authentication. */
  private whenOnline(task: () => Promise<void>): void {
    if (this.link.online) this.serial(task);
    else this.onlineTasks.push(task);
  }

  /** Runs network work one piece at a time, so pushes and pages are applied in order. */
  private serial(task: () => Promise<void>): void {
    this.work = this.work.then(task).catch((error: unknown) => {
      this.say((error as Error).message, 'error');
    });
  }

  private changed(): void {
    if (this.emitScheduled) return;
    this.emitScheduled = true;
    setImmediate(() => {
      this.emitScheduled = false;
      this.snapshot = this.build();
      for (const listener of this.listeners) listener();
    });
  }

  private build(): ChatSnapshot {
    const { account, profile } = this.session;
    return {
      me: { identifier: account.identifier, username: account.username },
      connection: this.connection,
      conversations: this.book.summaries(),
      chats: this.book.logs(),
      bell: profile.bell ?? true,
      arrivals: this.book.arrivals,
      notice: this.notice,
    };
  }
}
