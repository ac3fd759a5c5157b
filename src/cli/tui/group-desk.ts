import { groupHead, MetaChatError, type StoredGroupPacket } from '../../core/index.js';
import { PeerBlockedError } from '../cli-errors.js';
import { readGroupHistoryPage } from '../groups/group-history.js';
import { GroupKeyring } from '../groups/group-keyring.js';
import { followGroupPushes } from '../groups/group-push-listener.js';
import { isGroupRefusal, readGroupRecord } from '../groups/group-reader.js';
import { sendToGroup } from '../groups/group-send.js';
import { syncGroupLog } from '../groups/group-sync.js';
import { GroupStoreFullError, TooManyGroupsError } from '../profile/group-store.js';
import { RelayRefusedError } from '../relay/relay-client.js';
import { peerLabel } from '../stream/peer-label.js';
import { refusalOf } from '../outgoing/message-refusal.js';
import { aboutSend, type ChatContext } from './chat-context.js';
import type { ChatMessage } from './chat-state.js';
import { groupChatLines } from './group-lines.js';
import { groupChatViews, groupSummaries, type OpenedGroup, type Tally } from './group-views.js';
import {
  mergeGroupLines,
  type GroupChat,
  type GroupMemberRow,
  type GroupSummary,
} from './group-state.js';

/** Group messages per history page in the chat view. */
const PAGE = 50;

/** What a failed group send can be: said in the status line, the message marked failed. */
function sendRefusal(error: unknown): error is Error {
  return (
    error instanceof PeerBlockedError ||
    error instanceof MetaChatError ||
    error instanceof RelayRefusedError ||
    error instanceof TooManyGroupsError ||
    error instanceof GroupStoreFullError
  );
}

/**
 * The chat screen's groups, through the CLI's group logic (src/cli/groups): every group record of
 * my stream opened and checked by readGroupRecord (inbox tallies: last message, unread, refused),
 * a conversation's pages read as `history group:` reads them, membership changes verified from the
 * relay's pushes and shown as lines of their own, sends sealed as `send group:` seals them (a member
 * whose key changed blocks the send, named), and the member list checked as a send would check it.
 */
export class GroupDesk {
  private readonly tallies = new Map<string, Tally>();
  private readonly chats = new Map<string, OpenedGroup>();
  private readonly seen = new Set<number>();
  private activeGroup: string | null = null;
  private pending = 0;

  constructor(private readonly ctx: ChatContext) {}

  /** Follows the relay's pushes of new log entries (each verified before it shows). */
  start(): void {
    followGroupPushes(
      this.ctx.session,
      () => {
        // The change is in the profile's log now: the inbox and the open conversation show it.
        this.ctx.saveSoon();
        this.ctx.changed();
      },
      (line) => {
        this.ctx.say(line.warning, 'error', true);
      },
    );
  }

  private tally(group: string): Tally {
    let tally = this.tallies.get(group);
    if (tally === undefined) {
      tally = { unread: 0, lastActivity: 0, lastIncomingSeq: 0, rejected: 0, last: null };
      this.tallies.set(group, tally);
    }
    return tally;
  }

  /**
   * One group record of my stream, opened and checked: counted for the inbox (once per place),
   * shown if its conversation is open, a refusal flagged. Answers whether it verified.
   */
  async take(stored: StoredGroupPacket, live: boolean): Promise<boolean> {
    const { session } = this.ctx;
    const group = stored.groupMessage.group;
    const line = await readGroupRecord(session, stored);
    const tally = this.tally(group);
    const first = !this.seen.has(stored.seq);
    this.seen.add(stored.seq);
    const chat = this.chats.get(group);
    if (line !== null && chat !== undefined)
      this.setLines(group, groupChatLines(session.profile, line, stored.serverTime));
    if (line !== null && isGroupRefusal(line)) {
      if (first) tally.rejected++;
      if (live) this.ctx.say(line.warning, 'error', false);
      this.seen.delete(stored.seq);
    } else {
      tally.lastActivity = Math.max(tally.lastActivity, stored.serverTime);
      if (line !== null) {
        tally.last = { sender: line.sender, text: line.text };
        if (line.direction === 'incoming' && first) {
          tally.lastIncomingSeq = Math.max(tally.lastIncomingSeq, stored.seq);
          if (this.activeGroup === group) this.markRead(group);
          else if (stored.seq > (session.profile.groups?.[group]?.readUpTo ?? 0)) tally.unread++;
          if (live) this.ctx.book.arrived();
        }
      }
    }
    this.ctx.saveSoon();
    this.ctx.changed();
    return line === null || !isGroupRefusal(line);
  }

  /** Opens a group's conversation: marks it read, loads its last page and its changes. */
  open(group: string): void {
    this.activeGroup = group;
    if (!this.chats.has(group))
      this.chats.set(group, {
        group,
        lines: [],
        hasOlder: true,
        loadingOlder: true,
        members: null,
        member: true,
      });
    this.markRead(group);
    this.ctx.changed();
    this.ctx.whenOnline(() => this.loadPage(group, undefined));
  }

  /** Back to the inbox. */
  close(): void {
    this.activeGroup = null;
    this.ctx.changed();
  }

  /** PageUp at the top: the page before the oldest loaded message. */
  loadOlder(group: string): void {
    const chat = this.chats.get(group);
    if (chat === undefined || chat.loadingOlder || !chat.hasOlder || !this.ctx.online()) return;
    const oldest = chat.lines.find((line) => line.seq !== undefined)?.seq;
    this.chats.set(group, { ...chat, loadingOlder: true });
    this.ctx.changed();
    this.ctx.whenOnline(() => this.loadPage(group, oldest));
  }

  private async loadPage(group: string, before: number | undefined): Promise<void> {
    const { session } = this.ctx;
    try {
      const { items, more } = await readGroupHistoryPage(session, group, PAGE, before);
      const lines: ChatMessage[] = [];
      for (const item of items) {
        if (item.kind === 'issue') {
          this.ctx.say(item.issue.message, 'error', true);
          lines.push({
            id: `${item.issue.code}:${String(item.issue.seq ?? 0)}`,
            time: Date.now(),
            direction: 'incoming',
            warning: item.issue.message,
          });
        } else {
          lines.push(
            ...groupChatLines(
              session.profile,
              item.line,
              'time' in item.line ? item.line.time : Date.now(),
            ),
          );
        }
      }
      const chat = this.chats.get(group);
      if (chat !== undefined)
        this.chats.set(group, { ...chat, hasOlder: more, loadingOlder: false });
      this.setLines(group, lines);
      this.markRead(group);
      this.ctx.settled(`history:${group}`);
    } catch (error) {
      const chat = this.chats.get(group);
      if (chat !== undefined) this.chats.set(group, { ...chat, loadingOlder: false });
      this.ctx.say(
        `Could not load the group: ${(error as Error).message}`,
        'error',
        false,
        `history:${group}`,
      );
    }
    this.ctx.saveSoon();
    this.ctx.changed();
  }

  private setLines(group: string, lines: readonly ChatMessage[]): void {
    const chat = this.chats.get(group);
    if (chat !== undefined)
      this.chats.set(group, { ...chat, lines: mergeGroupLines(chat.lines, lines) });
  }

  private markRead(group: string): void {
    const tally = this.tally(group);
    tally.unread = 0;
    const record = this.ctx.session.profile.groups?.[group];
    if (record !== undefined && tally.lastIncomingSeq > (record.readUpTo ?? 0)) {
      record.readUpTo = tally.lastIncomingSeq;
      this.ctx.saveSoon();
    }
  }

  /**
   * Seals a message for every member at the verified head, as `send group:` does; false (with a
   * notice) if the text cannot be a message. A member whose key changed blocks it, named.
   */
  send(group: string, text: string): boolean {
    const refusal = refusalOf(text);
    if (refusal !== null) {
      this.ctx.say(refusal, 'error');
      return false;
    }
    const id = `sending:${String(++this.pending)}`;
    const time = Date.now();
    this.setLines(group, [
      { id, time, direction: 'outgoing', text, status: 'sending', sender: 'me' },
    ]);
    this.ctx.changed();
    this.ctx.whenOnline(async () => {
      try {
        const sent = await sendToGroup(this.ctx.session, group, text);
        const chat = this.chats.get(group);
        if (chat !== undefined)
          this.chats.set(group, { ...chat, lines: chat.lines.filter((line) => line.id !== id) });
        this.setLines(group, [
          {
            id: sent.id,
            seq: sent.seq,
            time,
            direction: 'outgoing',
            text,
            status: 'sent',
            sender: 'me',
          },
        ]);
        this.seen.add(sent.seq);
        const tally = this.tally(group);
        tally.lastActivity = Math.max(tally.lastActivity, time);
        tally.last = { sender: 'me', text };
        this.ctx.settled(aboutSend(group));
      } catch (error) {
        if (!sendRefusal(error)) throw error;
        this.setLines(group, [
          {
            id,
            time,
            direction: 'outgoing',
            text,
            status: 'failed',
            failure: error.message,
            sender: 'me',
          },
        ]);
        this.ctx.say(error.message, 'error', true, aboutSend(group));
      }
      this.ctx.saveSoon();
      this.ctx.changed();
    });
    return true;
  }

  /** Ctrl+R: the group's failed messages are sent again (checked and sealed anew). */
  retry(group: string): void {
    const chat = this.chats.get(group);
    if (chat === undefined) return;
    const failed = chat.lines.filter((line) => line.status === 'failed' && line.text !== undefined);
    if (failed.length === 0) return;
    this.chats.set(group, { ...chat, lines: chat.lines.filter((line) => !failed.includes(line)) });
    for (const line of failed) this.send(group, line.text ?? '');
  }

  /** Fetches and verifies the log, then checks every member's key as a send would (the member list). */
  members(group: string): void {
    this.ctx.whenOnline(async () => {
      const { session } = this.ctx;
      const keyring = new GroupKeyring(session);
      try {
        const head = groupHead(await syncGroupLog(session, keyring, group));
        const rows: GroupMemberRow[] = [];
        for (const identifier of head.members) {
          rows.push({
            identifier,
            name:
              identifier === session.account.identifier
                ? 'me'
                : peerLabel(session.profile, identifier).name,
            admin: head.admins.includes(identifier),
            state: await keyring.memberState(head, identifier),
          });
        }
        const chat = this.chats.get(group);
        if (chat !== undefined)
          this.chats.set(group, {
            ...chat,
            members: rows,
            member: head.members.includes(session.account.identifier),
          });
      } catch (error) {
        if (!sendRefusal(error)) throw error;
        this.ctx.say(`Could not check the members: ${error.message}`, 'error');
      }
      this.ctx.saveSoon();
      this.ctx.changed();
    });
  }

  /** The inbox's groups (every group held, and any with records in my stream), newest activity first. */
  summaries(): GroupSummary[] {
    return groupSummaries(this.ctx.session.profile, this.tallies, new Set(this.chats.keys()));
  }

  /** The opened group conversations, with their membership changes placed among the messages. */
  logs(): Map<string, GroupChat> {
    return groupChatViews(this.ctx.session, this.chats);
  }
}
