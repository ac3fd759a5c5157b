import { describe, expect, it } from '@jest/globals';
import { render } from 'ink-testing-library';
import type { ChatSnapshot, GroupChat, GroupSummary } from '../../src/cli/tui/chat-state.js';
import type { GroupLine } from '../../src/cli/groups/group-reader.js';
import type { Profile } from '../../src/cli/profile/profile.js';
import { GroupChatView, type GroupChatActions } from '../../src/cli/tui/GroupChatView.js';
import { groupChatLines } from '../../src/cli/tui/group-lines.js';
import { InboxView, type InboxActions } from '../../src/cli/tui/InboxView.js';
import { KeyboardProvider } from '../../src/cli/tui/use-keys.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const CAROL = 'c'.repeat(64);
const DAVE = 'd'.repeat(64);
const GROUP = 'e'.repeat(64);
const NOON = Date.UTC(2026, 10, 24, 12, 0, 0);

const profile = {
  identifier: ME,
  peers: { [BOB]: { username: 'bob' }, [CAROL]: { username: 'carol' }, [DAVE]: { alias: 'dave' } },
} as unknown as Profile;

function snapshot(overrides: Partial<ChatSnapshot> = {}): ChatSnapshot {
  return {
    me: { identifier: ME, username: 'alice' },
    connection: { status: 'connected' },
    conversations: [],
    chats: new Map(),
    bell: true,
    arrivals: 0,
    notice: null,
    ended: null,
    ...overrides,
  };
}

function summary(overrides: Partial<GroupSummary> = {}): GroupSummary {
  return {
    group: GROUP,
    name: 'team',
    unread: 0,
    lastActivity: NOON,
    last: null,
    rejected: 0,
    changed: [],
    ...overrides,
  };
}

const actions: GroupChatActions = {
  send: () => true,
  retry: () => undefined,
  loadOlder: () => undefined,
  members: () => undefined,
  back: () => undefined,
};

const base = { id: 'p1', seq: 7, group: GROUP, name: 'team', from: BOB, time: NOON } as const;

describe('a group conversation on screen', () => {
  it('names each sender, marks a message for an older membership, and shows refusals and changes as lines of their own', () => {
    const older: GroupLine = {
      ...base,
      sender: 'bob',
      text: 'from before 👋',
      direction: 'incoming',
      head: 1,
      current: false,
      formerMembers: [DAVE],
      newMembers: [CAROL],
    };
    const refused: GroupLine = {
      id: 'p2',
      seq: 8,
      group: GROUP,
      warning: 'This group message is not from a member.',
      code: 'GROUP_NOT_MEMBER',
    };
    const lines = [
      ...groupChatLines(profile, older, NOON),
      ...groupChatLines(profile, refused, NOON + 1),
    ];
    expect(lines.map((line) => line.warning ?? line.text)).toEqual([
      'from before 👋',
      'written for an older membership (log entry 1): the sender had not seen the later changes; dave could read it too; carol cannot read it',
      'This group message is not from a member. (GROUP_NOT_MEMBER)',
    ]);
    const chat: GroupChat = {
      group: GROUP,
      messages: [
        { id: 'entry:1', time: NOON - 10, direction: 'incoming', info: 'alice added carol' },
        ...lines,
      ],
      hasOlder: false,
      loadingOlder: false,
      members: null,
      member: true,
    };
    const frame =
      render(
        <KeyboardProvider>
          <GroupChatView
            snapshot={snapshot()}
            summary={summary({ changed: ['bob'] })}
            chat={chat}
            width={160}
            height={16}
            actions={actions}
          />
        </KeyboardProvider>,
      ).lastFrame() ?? '';
    expect(frame).toContain('# team');
    expect(frame).toContain('KEY CHANGED: bob (blocks sending)');
    expect(frame).toContain('· alice added carol');
    expect(frame).toMatch(/bob\s+from before 👋/);
    expect(frame).toContain('⚠ written for an older membership (log entry 1)');
    expect(frame).toContain('(GROUP_NOT_MEMBER)');
  });

  it('lists a group in the inbox with its last message and sender, unread and a changed key', () => {
    const inbox: InboxActions = {
      open: () => undefined,
      openAddress: () => false,
      quit: () => undefined,
      toggleBell: () => undefined,
    };
    const frame =
      render(
        <KeyboardProvider>
          <InboxView
            snapshot={snapshot({
              groups: [
                summary({
                  unread: 2,
                  last: { sender: 'bob', text: 'see you' },
                  changed: ['carol'],
                }),
              ],
            })}
            width={140}
            height={8}
            actions={inbox}
          />
        </KeyboardProvider>,
      ).lastFrame() ?? '';
    expect(frame).toMatch(/# team\s+\(2 new\)/);
    expect(frame).toContain('KEY CHANGED: carol');
    expect(frame).toContain('bob: see you');
  });
});
