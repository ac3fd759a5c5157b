import { importPublicKey, type PublicKey } from '../../core/index.js';
import type { Account } from '../relay/account.js';
import {
  DeletionUnverifiedError,
  PeerBlockedError,
  PeerDeletedError,
  UnknownPeerError,
} from '../cli-errors.js';
import type { OutboxEntry } from '../outgoing/outbox.js';
import type { MessageBody } from '../outgoing/compose.js';
import {
  firstContactNotice,
  noSuchUser,
  parsePeerAddress,
  peerKey,
  senderKey,
  type SenderKey,
  usernameNotice,
  type PeerAddress,
} from '../profile/peers.js';
import { peerLabel, type PeerLabel } from '../stream/peer-label.js';
import { onKeyReplaced, replacedKeysOf } from '../profile/key-replacements.js';
import { ProfileReplacedError } from '../profile/profile-merge.js';
import { saveProfile, type Profile } from '../profile/profile.js';
import { RelayRefusedError, type RelayClient } from '../relay/relay-client.js';
import type { Session } from '../relay/session.js';
import type { HistoryStore } from '../history/history-store.js';
import { StreamGuard } from '../stream/stream-guard.js';
import { ChatCache, type SearchOutcome } from './chat-cache.js';
import { aboutKey, type ChatContext } from './chat-context.js';
import { ChatOutbox } from './chat-outbox.js';
import type { ChatSnapshot, ConnectionState, TrustState } from './chat-state.js';
import { ChatStream } from './chat-stream.js';
import { ConversationBook, trustOf } from './conversation-book.js';
import { GroupDesk } from './group-desk.js';
import { ProfileWatch } from './profile-watch.js';
import { RelayLink } from './relay-link.js';

/** A status-line notice, and what it is about when a later success should take it away. */
interface Notice {
  readonly text: string;
  readonly tone: 'info' | 'error';
  readonly about?: string;
}

/** How long Ctrl+C waits for queued messages to be acknowledged before leaving them queued. */
const FLUSH_MS = 5_000;
/** How long a notice stays in the status line. */
const NOTICE_MS = 8_000;

/** What the TUI needs to run: an unlocked account, its profile and a not-yet-connected client. */
export interface ChatControllerOptions {
  readonly home: string;
  readonly profile: Profile;
  readonly account: Account;
  readonly client: RelayClient;
  readonly outbox: readonly OutboxEntry[];
  /** This device's local history, if it opened: what the screen verifies is kept there. */
  readonly history?: HistoryStore | undefined;
}

/**
 * The TUI's model, outside React: it keeps the link to the relay, hands reading to a ChatStream
 * (verify, decrypt, stream guard, history) and sending to a ChatOutbox (sealed once, resent with
 * the same ids until acknowledged), and publishes immutable snapshots for `useSyncExternalStore`.
 */
export class ChatController {
  private readonly book: ConversationBook;
  private readonly link: RelayLink;
  private readonly session: Session;
  private readonly guard: StreamGuard;
  private readonly outbox: ChatOutbox;
  private readonly stream: ChatStream;
  private readonly cache: ChatCache;
  /** The group conversations: inbox tallies, opened chats, sends and member lists. */
  readonly groups: GroupDesk;
  private readonly keys = new Map<string, PublicKey>();
  private closing = false;
  private readonly listeners = new Set<() => void>();
  private snapshot: ChatSnapshot;
  private connection: ConnectionState = { status: 'connecting' };
  private notice: Notice | null = null;
  private work: Promise<void> = Promise.resolve();
  private emitScheduled = false;
  private receiptTimer: NodeJS.Timeout | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private readonly onlineTasks: (() => Promise<void>)[] = [];
  private readonly watch: ProfileWatch;
  /** Why the screen must close (a logout elsewhere), once it must. */
  private ended: string | null = null;

  constructor(options: ChatControllerOptions) {
    this.session = {
      home: options.home,
      profile: options.profile,
      account: options.account,
      client: options.client,
      history: options.history,
    };
    this.guard = new StreamGuard({
      seenUpTo: options.profile.seenUpTo,
      remembered: options.profile.recentPackets,
    });
    this.book = new ConversationBook(options.account.identifier, options.profile);
    this.link = new RelayLink(options.client, options.account, {
      onState: (state) => {
        this.connection = state;
        if (state.status !== 'connected') this.book.presenceUnknown(Date.now());
        this.changed();
      },
      onAuthenticated: () => {
        this.serial(() => this.stream.catchUp());
        for (const task of this.onlineTasks.splice(0)) this.serial(task);
        this.keys.clear();
        void this.outbox.flush();
      },
    });
    onKeyReplaced(this.session.profile, (line) => {
      this.say(line, 'info', true);
    });
    const ctx: ChatContext = {
      session: this.session,
      book: this.book,
      guard: this.guard,
      online: () => this.link.online,
      keyFor: (identifier) => this.keyFor(identifier),
      senderKey: (identifier, fresh) => {
        if (fresh === true) this.keys.delete(identifier);
        return this.senderKey(identifier);
      },
      knownKey: (peer) => this.knownKey(peer),
      checkKey: (peer) => this.checkKey(peer),
      say: (text, tone, sticky, about) => {
        this.say(text, tone, sticky, about);
      },
      settled: (about) => {
        this.settled(about);
      },
      changed: () => {
        this.changed();
      },
      saveInOrder: (write, what) => {
        this.saveInOrder(write, what);
      },
      saveSoon: () => {
        this.saveSoon();
      },
      remember: () => {
        this.remember();
      },
      receiptSoon: () => {
        this.receiptSoon();
      },
      markRead: (peer) => {
        this.markRead(peer);
      },
      whenOnline: (task) => {
        this.whenOnline(task);
      },
    };
    this.watch = new ProfileWatch(options.home, {
      onChange: () => {
        // Saving merges in what the other terminal wrote (an alias, the bell, a --trust).
        this.saveSoon(0);
      },
      onGone: () => {
        this.end('This device was logged out in another terminal: the chat screen closed.');
      },
    });
    this.groups = new GroupDesk(ctx);
    this.stream = new ChatStream(ctx, this.groups);
    this.cache = new ChatCache(
      this.session,
      (text) => {
        this.say(text, 'error');
      },
      (peer) => this.book.name(peer),
    );
    this.outbox = new ChatOutbox(ctx, options.outbox);
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
    this.groups.start();
    this.link.start();
    void this.watch.start();
  }

  /** The account is gone from this device: nothing more is saved, and the screen closes. */
  private end(reason: string): void {
    if (this.ended !== null) return;
    this.ended = reason;
    this.closing = true;
    this.watch.stop();
    clearTimeout(this.saveTimer);
    this.say(reason, 'error', true);
  }

  /**
   * Opens a conversation: at once with what this device's history holds (the log says it is from
   * there), then marks it read, checks the peer's key and loads its last page from the relay.
   */
  openChat(peer: string): void {
    this.book.setActive(peer);
    const shown = this.book.log(peer)?.messages.some((message) => message.seq !== undefined);
    if (!this.book.isLoaded(peer) && shown !== true)
      this.book.cached(peer, this.cache.page(peer).messages);
    this.openLoaded(peer);
  }

  /**
   * Opens a conversation at one message of this device's history (a search result): the page up
   * to it and what follows, then the relay's newest page as openChat does; false if it is gone.
   */
  openAt(peer: string, id: string): boolean {
    const around = this.cache.around(peer, id);
    if (around === undefined) {
      this.say('That message is not in this device’s history any more.', 'error');
      return false;
    }
    this.book.setActive(peer);
    this.book.cached(peer, around.messages, true);
    this.openLoaded(peer);
    return true;
  }

  /** Searches this device's history (`/` in a conversation), newest first. */
  search(words: string): SearchOutcome {
    return this.cache.search(words);
  }

  private openLoaded(peer: string): void {
    this.markRead(peer);
    this.changed();
    if (this.link.online) {
      this.serial(async () => {
        await this.checkKey(peer);
        if (!this.book.isLoaded(peer)) await this.stream.loadPage(peer, undefined);
      });
    }
  }

  /**
   * The identifier a typed address names (identifier, id#fingerprint, alias, known username), or
   * null with a notice. With a fingerprint, a promise: the relay's key is fetched (once online) and
   * must match it before the chat opens; if it does not, the answer is null, with the same refusal
   * `send` gives, and nothing is pinned or sent.
   */
  resolve(text: string): string | null | Promise<string | null> {
    let address: PeerAddress;
    try {
      address = parsePeerAddress(text, this.session.profile);
    } catch (error) {
      if (!(error instanceof UnknownPeerError)) throw error;
      this.say(error.message, 'error');
      return null;
    }
    if (address.username !== undefined)
      this.checkUsername({ ...address, username: address.username });
    if (address.fingerprint === undefined) return address.identifier;
    return this.checkFingerprint(address);
  }

  /** A username hashed into its identifier: says so, then once online whether it names anyone, and the key pinned. */
  private checkUsername(address: PeerAddress & { username: string }): void {
    this.say(usernameNotice(address) ?? '', 'info', true);
    const { identifier, username } = address;
    this.whenOnline(async () => {
      const first = this.session.profile.peers[identifier]?.publicKey === undefined;
      let key: PublicKey;
      try {
        key = await this.keyFor(identifier);
      } catch (error) {
        if (error instanceof RelayRefusedError && error.code === 'UNKNOWN_IDENTIFIER') {
          this.say(noSuchUser(address).message, 'error', true);
          return;
        }
        throw error;
      }
      if (first) this.say(firstContactNotice(identifier, key, username), 'info', true);
      this.saveSoon();
    });
  }

  private checkFingerprint(address: PeerAddress): Promise<string | null> {
    this.say(
      this.link.online
        ? 'Checking the relay’s key against the fingerprint you gave…'
        : 'The fingerprint will be checked against the relay’s key once connected…',
      'info',
      true,
    );
    return new Promise((resolve) => {
      this.whenOnline(async () => {
        try {
          await peerKey(this.session.client, this.session.profile, address);
        } catch (error) {
          resolve(null);
          if (!(error instanceof PeerBlockedError || error instanceof RelayRefusedError))
            throw error;
          this.say(error.message, 'error', true);
          return;
        }
        this.say('Key matches the fingerprint you gave: verified.', 'info');
        this.saveSoon();
        resolve(address.identifier);
      });
    });
  }

  /** The name the views show for a peer. */
  nameOf(peer: string): string {
    return this.book.name(peer);
  }

  /** How the views show a peer: a name no other peer shares, and whom it looks like, if anyone. */
  labelOf(peer: string): PeerLabel {
    return peerLabel(this.session.profile, peer);
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
    const oldest = log?.messages.find((message) => message.seq !== undefined)?.seq;
    if (!this.link.online) {
      this.olderFromCache(peer, oldest);
      return;
    }
    if (log?.loadingOlder === true || log?.hasOlder === false) return;
    this.book.setLoading(peer, true);
    this.changed();
    this.serial(() => this.stream.loadPage(peer, oldest));
  }

  /** Offline, PageUp at the top: the page before `oldest` from this device's history, if it has one. */
  private olderFromCache(peer: string, oldest: number | undefined): void {
    const page = this.cache.page(peer, oldest);
    if (page.messages.length === 0) {
      this.say('Offline: older messages than these need the relay.', 'info');
      return;
    }
    this.book.update(peer, page.messages);
    this.changed();
  }

  /** Seals a message (text, reply, edit, delete) for the peer's pinned key and queues it; false (with a notice) if it cannot be. */
  send(peer: string, text: string | MessageBody): boolean {
    return this.outbox.send(peer, text);
  }

  /** Queues this conversation's failed messages again, with their original packet ids. */
  retry(peer: string): void {
    this.outbox.retry(peer);
  }

  /** The key to seal for without asking the relay: the one checked this connection, or the pin. */
  private knownKey(peer: string): PublicKey | undefined {
    const { profile, account } = this.session;
    if (peer === account.identifier) return account.keyPair.publicKey;
    const record = profile.peers[peer];
    if (record?.publicKey === undefined) return undefined;
    const key = this.keys.get(peer) ?? importPublicKey(record.publicKey);
    return this.pinIsSettled(peer, key) ? key : undefined;
  }

  /** A checked key stays usable only while it is the pin and no change or dispute is recorded. */
  private pinIsSettled(peer: string, key: PublicKey): boolean {
    if (peer === this.session.account.identifier) return true;
    const record = this.session.profile.peers[peer];
    return (
      record?.publicKey === key.encoded &&
      record.changedKey === undefined &&
      record.disputed !== true
    );
  }

  /** Turns the bell on or off, and remembers it in the profile. */
  toggleBell(): void {
    this.session.profile.bell = !(this.session.profile.bell ?? true);
    this.say(`Bell ${this.session.profile.bell ? 'on' : 'off'}.`, 'info');
    this.saveSoon();
  }

  /** Shows a line in the status bar; `about` names what failed, for `settled`. */
  say(text: string, tone: 'info' | 'error', sticky = false, about?: string): void {
    const notice: Notice = { text, tone, ...(about === undefined ? {} : { about }) };
    this.notice = notice;
    this.changed();
    if (sticky) return;
    setTimeout(() => {
      if (this.notice !== notice) return;
      this.notice = null;
      this.changed();
    }, NOTICE_MS).unref();
  }

  /** A failure the status line shows is over (its retry succeeded): the line goes back to the hints. */
  private settled(about: string): void {
    if (this.notice?.about !== about) return;
    this.notice = null;
    this.changed();
  }

  /** Ctrl+C: waits (bounded) for queued messages to be acknowledged, saves everything, disconnects. */
  async shutdown(): Promise<{ unsent: number; dropped: number; ended?: string }> {
    this.watch.stop();
    if (this.ended !== null) {
      // Logged out elsewhere: writing the outbox or profile back would undo that logout.
      this.link.stop();
      this.session.history?.close();
      await this.saving;
      return { unsent: 0, dropped: 0, ended: this.ended };
    }
    const deadline = Date.now() + FLUSH_MS;
    while (this.link.online && this.outbox.hasPending() && Date.now() < deadline) {
      await this.outbox.flush();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearTimeout(this.receiptTimer);
    await this.work.catch(() => undefined);
    this.link.stop();
    // From here the last save below is the only one: a timer-driven save could land after it.
    this.closing = true;
    clearTimeout(this.saveTimer);
    await this.saving;
    const left = await this.outbox.close();
    this.session.history?.close();
    await saveProfile(this.session.home, this.session.profile);
    return left;
  }

  /** Keeps the guard's mark and memory in the profile, so the next session checks from there. */
  private remember(): void {
    this.session.profile.seenUpTo = this.guard.seenUpTo;
    this.session.profile.recentPackets = this.guard.rememberedPackets();
    this.receiptSoon();
    this.saveSoon();
  }

  /** The relay's key for a peer, checked against the pin once per connection (a change is loud). */
  private async keyFor(identifier: string): Promise<PublicKey> {
    const cached = this.keys.get(identifier);
    if (cached && this.pinIsSettled(identifier, cached)) return cached;
    const key = await peerKey(this.session.client, this.session.profile, { identifier });
    this.keys.set(identifier, key);
    return key;
  }

  /** A delivered packet's sender key: a stranger's is looked up, and pinned only once it verified. */
  private async senderKey(identifier: string): Promise<SenderKey> {
    const { profile } = this.session;
    const none = () => undefined;
    const pinned = profile.peers[identifier]?.publicKey;
    if (identifier === profile.identifier || pinned !== undefined) {
      let key: PublicKey;
      try {
        key = await this.keyFor(identifier);
      } catch (error) {
        // A deleted contact's packets stay readable under the key pinned here (as in `senderKey`).
        const gone = error instanceof PeerDeletedError || error instanceof DeletionUnverifiedError;
        if (!gone || pinned === undefined) throw error;
        key = importPublicKey(pinned);
      }
      return { key, replaced: replacedKeysOf(profile, identifier), pin: none };
    }
    const lookup = await senderKey(this.session.client, profile, identifier);
    return {
      key: lookup.key,
      pin: () => {
        lookup.pin();
        if (profile.peers[identifier]?.publicKey === lookup.key.encoded)
          this.keys.set(identifier, lookup.key);
      },
    };
  }

  private async checkKey(peer: string): Promise<void> {
    this.keys.delete(peer);
    try {
      await this.keyFor(peer);
      this.settled(aboutKey(peer));
    } catch (error) {
      if (error instanceof PeerBlockedError || error instanceof RelayRefusedError) {
        this.say(error.message, 'error', false, aboutKey(peer));
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

  private saveSoon(delay = 250): void {
    if (this.saveTimer !== undefined || this.closing) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.saveInOrder(async () => {
        if (this.ended !== null) return;
        this.watch.beginWrite();
        try {
          await saveProfile(this.session.home, this.session.profile);
        } catch (error) {
          if (!(error instanceof ProfileReplacedError)) throw error;
          this.end(`${error.message} The chat screen closed.`);
          return;
        } finally {
          await this.watch.endWrite();
        }
        // The save merged in what other commands wrote (a --trust, an alias): forget keys that
        // are no longer the pinned ones, and show it.
        for (const [peer, key] of this.keys)
          if (!this.pinIsSettled(peer, key)) this.keys.delete(peer);
        this.changed();
      }, 'profile');
    }, delay);
  }

  private saveInOrder(write: () => Promise<void>, what: string): void {
    // After a logout elsewhere nothing is written: it would bring the account's files back.
    const guarded = async () => {
      if (this.ended !== null) return;
      await write();
      this.settled(`save:${what}`);
    };
    this.saving = this.saving.then(guarded).catch((error: unknown) => {
      this.say(
        `Could not save the ${what}: ${(error as Error).message}`,
        'error',
        false,
        `save:${what}`,
      );
    });
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
      ended: this.ended,
      groups: this.groups.summaries(),
      groupChats: this.groups.logs(),
    };
  }
}
