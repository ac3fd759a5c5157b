import {
  isGroupRecord,
  MetaChatError,
  type StoredPacket,
  type StreamRecord,
} from '../../core/index.js';
import { verifySender } from '../stream/open-with-keys.js';
import { PeerBlockedError } from '../cli-errors.js';
import { isWarning, readStored, type MessageLine } from '../stream/messages.js';
import { followStream, type StreamFollower, type StreamItem } from '../stream/stream-follower.js';
import { checkHistoryPage, hidesPacket, type StreamIssue } from '../stream/stream-guard.js';
import type { ChatContext } from './chat-context.js';
import type { ChatMessage } from './chat-state.js';
import type { GroupDesk } from './group-desk.js';

/** Messages per history page in the chat view. */
const PAGE = 50;

/**
 * The chat screen's reading side: follows my stream through the stream guard (a withheld,
 * reordered or replayed packet becomes a lasting notice and a warning line), verifies and decrypts
 * every packet, and loads conversation history page by page.
 */
export class ChatStream {
  private follower: StreamFollower | undefined;
  /** True once the first catch-up is done: from then on packets are new, shown, and ring the bell. */
  private following = false;

  constructor(
    private readonly ctx: ChatContext,
    private readonly groups: GroupDesk,
  ) {}

  /**
   * After each (re)connection. The first time: count what this device saw in earlier sessions (for
   * the inbox), then follow the stream from its mark. Later: catch up with what was sent while away.
   */
  async catchUp(): Promise<void> {
    if (this.follower === undefined) {
      await this.countSeen();
      this.follower = await followStream(
        this.ctx.session.client,
        this.ctx.guard,
        (item) => this.take(item),
        {
          onProgress: () => {
            this.ctx.remember();
          },
        },
      );
      this.following = true;
    } else {
      await this.follower.resync();
    }
    this.ctx.remember();
    const active = this.ctx.book.active();
    if (active !== null) {
      await this.ctx.checkKey(active);
      if (!this.ctx.book.isLoaded(active)) await this.loadPage(active, undefined);
    }
    this.ctx.changed();
  }

  /** One page of a conversation's history (the newest, or the one before `before`), checked and shown. */
  async loadPage(peer: string, before: number | undefined): Promise<void> {
    const { book, session } = this.ctx;
    try {
      const page = await session.client.history(peer, before, PAGE);
      const issues = checkHistoryPage(
        {
          me: session.account.identifier,
          peer,
          before,
          remembered: this.ctx.guard.rememberedPackets(),
        },
        page.packets,
      );
      const messages: ChatMessage[] = [];
      for (const [index, stored] of page.packets.entries()) {
        const issue = issues[index];
        if (issue !== undefined) {
          this.ctx.say(issue.message, 'error', true);
          messages.push({
            id: `${issue.code}:${String(stored.seq)}`,
            warning: issue.message,
            seq: stored.seq,
            time: stored.serverTime,
            direction: 'incoming',
          });
          if (hidesPacket(issue)) continue;
        }
        if (isGroupRecord(stored)) continue;
        const line = await this.read(stored);
        if (line !== null) messages.push(book.toMessage(line, stored));
      }
      book.loaded(peer, messages, page.more);
      this.ctx.markRead(peer);
      this.ctx.saveSoon();
      this.ctx.settled(`history:${peer}`);
    } catch (error) {
      book.setLoading(peer, false);
      this.ctx.say(
        `Could not load the history: ${(error as Error).message}`,
        'error',
        false,
        `history:${peer}`,
      );
    }
    this.ctx.changed();
  }

  /** The packets this device saw before (up to its mark): counted for the inbox, signatures checked. */
  private async countSeen(): Promise<void> {
    const upTo = this.ctx.guard.seenUpTo;
    for (let after = 0; after < upTo;) {
      const page = await this.ctx.session.client.sync(after, 500);
      for (const stored of page.packets) {
        if (stored.seq > upTo) return;
        if (isGroupRecord(stored)) {
          await this.groups.take(stored, false);
          continue;
        }
        await this.ingest(stored, false);
      }
      const last = page.packets.at(-1)?.seq ?? after;
      if (!page.more || last <= after) return;
      after = last;
    }
  }

  /**
   * One item from the stream follower: a packet to verify and show, or a warning about the stream.
   * Answers whether the packet verified (only then does its position count).
   */
  private async take(item: StreamItem): Promise<boolean> {
    const stored = item.kind === 'packet' ? item.stored : undefined;
    if (stored !== undefined && isGroupRecord(stored)) {
      const verified = await this.groups.take(stored, this.following);
      if (item.issue) this.ctx.say(item.issue.message, 'error', true);
      return verified;
    }
    const verified = stored !== undefined && (await this.ingest(stored, this.following));
    if (item.issue) this.streamIssue(item.issue, item.stored);
    return verified;
  }

  /** A lie about the stream: a loud, lasting notice, and a warning line where it happened. */
  private streamIssue(issue: StreamIssue, stored: StreamRecord | undefined): void {
    this.ctx.say(issue.message, 'error', true);
    if (stored === undefined || isGroupRecord(stored)) return;
    const me = this.ctx.session.account.identifier;
    const peer = stored.packet.from === me ? stored.packet.to : stored.packet.from;
    if (issue.code !== 'STREAM_REORDERED') this.ctx.book.rejected(peer);
    this.ctx.book.update(
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

  /**
   * Reads a packet with the sender's key as checked on this connection; a signature that fails under
   * it is checked once more with the key the relay serves now (the sender may have rotated their key
   * while the screen was open: the rotation is followed, and said, by the lookup).
   */
  private async read(stored: StoredPacket): Promise<MessageLine | null> {
    const { session } = this.ctx;
    const line = await readStored(session, stored, (id) => this.ctx.senderKey(id));
    if (line === null || !isWarning(line) || line.code !== 'SIGNATURE_INVALID') return line;
    return readStored(session, stored, (id) => this.ctx.senderKey(id, true));
  }

  /**
   * One packet of my stream. The first sync only checks signatures (cheap, so a long history loads
   * fast) and decrypts each peer's first packet, where the username exchange rides (every packet of
   * a peer whose username is still unknown); conversations load their messages page by page when
   * opened. Later packets are verified and decrypted, ring the bell, and join their conversation if
   * it is on screen.
   */
  private async ingest(stored: StoredPacket, live: boolean): Promise<boolean> {
    const { book, session } = this.ctx;
    const { packet } = stored;
    const me = session.account.identifier;
    const peer = packet.from === me ? packet.to : packet.from;
    if (!book.count(stored)) return true;
    let verified = true;
    // A peer whose username I have not yet learnt: each of their packets is read in full until their
    // hello turns up, wherever in the stream it is (their first packet may have come without one).
    const nameUnknown = packet.from !== me && session.profile.peers[peer]?.username === undefined;
    if (!live && !book.firstFrom(peer, stored) && !nameUnknown) {
      try {
        const check = async (fresh: boolean) => {
          const sender = await this.ctx.senderKey(packet.from, fresh);
          verifySender(packet, sender);
          sender.pin();
        };
        await check(false).catch((error: unknown) => {
          if (!signedByAnotherKey(error)) throw error;
          return check(true);
        });
        book.counted(peer, stored, session.profile);
      } catch (error) {
        if (!(error instanceof MetaChatError || error instanceof PeerBlockedError)) throw error;
        book.rejected(peer, stored);
        verified = false;
      }
    } else {
      const line = await this.read(stored);
      verified = line === null || !isWarning(line);
      if (line === null) book.touch(peer, stored.serverTime);
      else if (isWarning(line)) book.rejected(peer, stored);
      else book.counted(peer, stored, session.profile);
      if (line !== null && live) book.update(peer, [book.toMessage(line, stored)], true);
      if (line !== null && !isWarning(line) && line.direction === 'incoming' && live) {
        book.arrived();
      }
    }
    if (!verified) book.uncount(stored);
    if (book.active() === peer) this.ctx.markRead(peer);
    this.ctx.receiptSoon();
    this.ctx.saveSoon();
    this.ctx.changed();
    return verified;
  }
}

/** A signature that failed under the key checked on this connection: another key may have made it. */
function signedByAnotherKey(error: unknown): boolean {
  return error instanceof MetaChatError && error.code === 'SIGNATURE_INVALID';
}
