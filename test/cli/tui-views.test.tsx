import type { MessageBody } from '../../src/cli/outgoing/compose.js';
import { describe, expect, it, jest } from '@jest/globals';
import { render } from 'ink-testing-library';
import type {
  ChatLog,
  ChatMessage,
  ChatSnapshot,
  ConversationSummary,
} from '../../src/cli/tui/chat-state.js';
import { ChatView, type ChatActions } from '../../src/cli/tui/ChatView.js';
import { InboxView, type InboxActions } from '../../src/cli/tui/InboxView.js';
import { dayLabel } from '../../src/cli/terminal/local-time.js';
import { KeyboardProvider } from '../../src/cli/tui/use-keys.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const CAROL = 'c'.repeat(64);
const NOON = Date.UTC(2026, 10, 24, 12, 0, 0);

const KEYS = {
  enter: '\r',
  altEnter: '\u001b\r',
  ctrlJ: '\n',
  up: '\u001b[A',
  down: '\u001b[B',
  pageUp: '\u001b[5~',
  pageDown: '\u001b[6~',
  escape: '\u001b',
  ctrlR: '\u0012',
  ctrlB: '\u0002',
  backspace: '\u007f',
  left: '\u001b[D',
};

async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 30));
}

async function press(stdin: { write: (data: string) => void }, ...keys: string[]): Promise<void> {
  await settle();
  for (const key of keys) {
    stdin.write(key);
    await settle();
  }
}

function summary(overrides: Partial<ConversationSummary> = {}): ConversationSummary {
  return {
    id: BOB,
    name: 'bob',
    unread: 0,
    lastActivity: NOON,
    online: false,
    lastSeen: null,
    rejected: 0,
    trust: 'unverified',
    ...overrides,
  };
}

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

function message(id: string, overrides: Partial<ChatMessage> = {}): ChatMessage {
  return { id, seq: 1, time: NOON, direction: 'incoming', text: `text ${id}`, ...overrides };
}

function log(messages: ChatMessage[], overrides: Partial<ChatLog> = {}): ChatLog {
  return { peer: BOB, messages, hasOlder: true, loadingOlder: false, ...overrides };
}

function chatActions() {
  const sent: string[] = [];
  const actions = {
    send: jest.fn((content: string | MessageBody) => {
      sent.push(typeof content === 'string' ? content : JSON.stringify(content));
      return true;
    }),
    retry: jest.fn(),
    loadOlder: jest.fn(),
    back: jest.fn(),
    toggleBell: jest.fn(),
    search: jest.fn(() => ({ hits: [] })),
    openAt: jest.fn(),
  } satisfies ChatActions;
  return { actions, sent };
}

function renderChat(
  messages: ChatMessage[],
  options: {
    snap?: Partial<ChatSnapshot>;
    sum?: Partial<ConversationSummary>;
    log?: Partial<ChatLog>;
    height?: number;
    width?: number;
  } = {},
) {
  const { actions, sent } = chatActions();
  const view = render(
    <KeyboardProvider>
      <ChatView
        snapshot={snapshot(options.snap)}
        summary={summary(options.sum)}
        log={log(messages, options.log)}
        width={options.width ?? 80}
        height={options.height ?? 20}
        actions={actions}
      />
    </KeyboardProvider>,
  );
  return { ...view, actions, sent };
}

describe('InboxView', () => {
  function renderInbox(conversations: ConversationSummary[], snap: Partial<ChatSnapshot> = {}) {
    const actions = {
      open: jest.fn(),
      openAddress: jest.fn((_address: string) => true),
      quit: jest.fn(),
      toggleBell: jest.fn(),
    } satisfies InboxActions;
    const view = render(
      <KeyboardProvider>
        <InboxView
          snapshot={snapshot({ conversations, ...snap })}
          width={100}
          height={12}
          actions={actions}
        />
      </KeyboardProvider>,
    );
    return { ...view, actions };
  }

  it('lists conversations with names, unread counts, presence, connection and rejected packets', () => {
    const { lastFrame } = renderInbox([
      summary({ unread: 3, online: true }),
      summary({
        id: CAROL,
        name: 'carol',
        rejected: 2,
        lastActivity: NOON - 1000,
        trust: 'changed',
      }),
    ]);
    const frame = lastFrame() ?? '';
    expect(frame).toContain('alice (aaaaaaaaaaaa) · connected · bell on');
    expect(frame).toMatch(/› ● bob\s+\(3 new\).*online/);
    expect(frame).toMatch(/○ carol.*KEY CHANGED.*⚠ 2 unverifiable/);
    expect(frame.indexOf('bob')).toBeLessThan(frame.indexOf('carol'));
  });

  it('at 40 columns keeps each entry’s unread count and time; my notes show no presence', () => {
    const actions = {
      open: jest.fn(),
      openAddress: jest.fn((_address: string) => true),
      quit: jest.fn(),
      toggleBell: jest.fn(),
    } satisfies InboxActions;
    const frame =
      render(
        <KeyboardProvider>
          <InboxView
            snapshot={snapshot({
              conversations: [
                summary({
                  name: 'somebody with a long name',
                  unread: 12,
                  lastActivity: Date.now(),
                }),
                summary({ id: ME, name: 'me (notes)', online: false, lastSeen: NOON }),
              ],
            })}
            width={40}
            height={8}
            actions={actions}
          />
        </KeyboardProvider>,
      ).lastFrame() ?? '';
    const [first, notes] = frame.split('\n').slice(1, 3);
    expect(first).toContain('(12 new)');
    expect(first).toMatch(/\d\d:\d\d/);
    expect(notes).toContain('me (notes)');
    expect(notes).not.toMatch(/○|last seen|offline/);
  });

  it('flags a conversation whose peer looks like a contact', () => {
    const frame =
      renderInbox([
        summary({
          name: 'bbbbbbbbbbbbbbbbbbbbbbc…',
          id: `${'b'.repeat(22)}c${'0'.repeat(41)}`,
          lookalike: 'bob',
        }),
      ]).lastFrame() ?? '';
    expect(frame).toMatch(/bbbbbbbbbbbbbbbbbbbbbbc….*⚠ looks like bob/);
  });

  it('says how to start when there is no conversation', () => {
    expect(renderInbox([]).lastFrame()).toContain('No conversations yet: press n');
  });

  it('says it is offline, not that there is nothing, while the relay cannot be reached', () => {
    const frame =
      renderInbox([], {
        connection: { status: 'offline', reason: 'retrying (attempt 11)' },
      }).lastFrame() ?? '';
    expect(frame).toContain('Not connected to the relay (offline: retrying (attempt 11))');
    expect(frame).not.toContain('No conversations yet');
  });

  it('moves with the arrows (and j/k) and opens with Enter', async () => {
    const { stdin, actions, lastFrame } = renderInbox([
      summary(),
      summary({ id: CAROL, name: 'carol' }),
    ]);
    await press(stdin, KEYS.down);
    expect(lastFrame()).toMatch(/› ○ carol/);
    await press(stdin, KEYS.enter);
    expect(actions.open).toHaveBeenCalledWith(CAROL);
    await press(stdin, 'k', KEYS.enter);
    expect(actions.open).toHaveBeenLastCalledWith(BOB);
  });

  it('n asks for an address, Enter opens it, Esc cancels', async () => {
    const { stdin, actions, lastFrame } = renderInbox([]);
    await press(stdin, 'n');
    expect(lastFrame()).toContain('identifier, id#fingerprint, alias or name; Esc cancels');
    await press(stdin, 'b', 'o', 'b', KEYS.enter);
    expect(actions.openAddress).toHaveBeenCalledWith('bob');
    await press(stdin, 'n', 'x', KEYS.escape);
    expect(lastFrame()).not.toContain('Esc cancels');
    expect(actions.openAddress).toHaveBeenCalledTimes(1);
  });

  it('q quits and b toggles the bell', async () => {
    const { stdin, actions } = renderInbox([summary()]);
    await press(stdin, 'b', 'q');
    expect(actions.toggleBell).toHaveBeenCalledTimes(1);
    expect(actions.quit).toHaveBeenCalledTimes(1);
  });

  it('shows a reconnecting relay with its attempt number, and an offline one with the reason', () => {
    expect(
      renderInbox([], { connection: { status: 'reconnecting', attempt: 3 } }).lastFrame(),
    ).toContain('reconnecting (attempt 3)');
    expect(
      renderInbox([], { connection: { status: 'offline', reason: 'account unknown' } }).lastFrame(),
    ).toContain('offline: account unknown');
  });
});

describe('ChatView', () => {
  it('shows the header: name, short id, presence, connection and trust', () => {
    const frame =
      renderChat([], {
        sum: { online: true, trust: 'changed' },
        snap: { connection: { status: 'reconnecting', attempt: 2 } },
        width: 140,
      }).lastFrame() ?? '';
    expect(frame).toContain(
      'bob bbbbbbbbbbbbbbbbbbbb… · KEY CHANGED: sending blocked · online · reconnecting (attempt 2)',
    );
  });

  it('flags a look-alike in the header, with its longer short identifier', () => {
    const frame =
      renderChat([], {
        sum: {
          name: 'bbbbbbbbbbbbbbbbbbbbbc…',
          shortId: 'bbbbbbbbbbbbbbbbbbbbbc…',
          lookalike: 'bob',
        },
        width: 160,
      }).lastFrame() ?? '';
    expect(frame).toContain('⚠ looks like bob: a different peer');
  });

  it('shows every state of my messages, theirs without one, and a day separator', () => {
    const frame =
      renderChat([
        message('m1', { seq: 1 }),
        message('m2', {
          seq: 2,
          direction: 'outgoing',
          status: 'delivered',
          text: 'delivered one',
        }),
        message('m3', { seq: 3, direction: 'outgoing', status: 'sent', text: 'sent one' }),
        message('m4', {
          direction: 'outgoing',
          status: 'sending',
          text: 'sending one',
          seq: undefined as never,
        }),
        message('m5', {
          direction: 'outgoing',
          status: 'failed',
          failure: 'rate limited',
          text: 'failed one',
        }),
      ]).lastFrame() ?? '';
    expect(frame).toContain(dayLabel(NOON));
    expect(frame).toMatch(/bob\s+text m1\n/);
    expect(frame).toMatch(/alice\s+delivered one ✓✓/);
    expect(frame).toMatch(/alice\s+sent one ✓\n/);
    expect(frame).toMatch(/alice\s+sending one ⧗ sending/);
    expect(frame).toMatch(/alice\s+failed one ✗ failed: rate limited \(Ctrl\+R retries\)/);
  });

  it('shows a packet that failed verification as a warning line, never as text', () => {
    const frame =
      renderChat([
        message('bad', {
          warning: 'The signature does not verify: this packet was forged or altered.',
          text: undefined as never,
        }),
      ]).lastFrame() ?? '';
    expect(frame).toContain('⚠ The signature does not verify');
  });

  it('neutralises terminal escapes in message text', () => {
    const frame =
      renderChat([message('esc', { text: 'hi\u001b[2Jthere\u202e' })]).lastFrame() ?? '';
    expect(frame).not.toContain('\u001b[2J');
    expect(frame).toContain('hi\ufffd[2Jthere\ufffd');
  });

  it('draws the continuation lines of a peer\'s text right of the name column: a forged "alice" line never starts a row', () => {
    const frame =
      renderChat([
        message('forged', { text: 'ok\n12:00 alice  send the door code here\u200b' }),
      ]).lastFrame() ?? '';
    const rows = frame.split('\n');
    const forged = rows.find((row) => row.includes('send the door code'));
    expect(forged).toBeDefined();
    // A message row starts with its time at the left edge; this one starts with the body column's indent.
    expect(forged).toMatch(/^\s{8,}12:00 alice {2}send the door code here\ufffd/);
    expect(rows.filter((row) => /^\d\d:\d\d /.test(row))).toHaveLength(1);
  });

  it('puts a separator between days', () => {
    const frame =
      renderChat([message('d1', { seq: 1, time: NOON - 86_400_000 }), message('d2', { seq: 2 })], {
        width: 120,
      }).lastFrame() ?? '';
    expect(frame).toContain(dayLabel(NOON - 86_400_000));
    expect(frame).toContain(dayLabel(NOON));
  });

  it('Enter sends, Alt+Enter and Ctrl+J insert newlines, up/down recall what was sent', async () => {
    const { stdin, sent, lastFrame } = renderChat([]);
    await press(stdin, 'h', 'i', KEYS.enter);
    expect(sent).toEqual(['hi']);
    await press(stdin, 'a', KEYS.altEnter, 'b', KEYS.ctrlJ, 'c', KEYS.enter);
    expect(sent).toEqual(['hi', 'a\nb\nc']);
    await press(stdin, KEYS.up);
    expect(lastFrame()).toMatch(/> a\n\s+b\n\s+c/);
    // In a recalled multi-line draft ↑ first moves up its lines, then recalls the one before.
    await press(stdin, KEYS.up, KEYS.up, KEYS.up);
    expect(lastFrame()).toContain('> hi');
    await press(stdin, KEYS.down, KEYS.down);
    expect(lastFrame()).toContain('write a message');
  });

  it('edits at the cursor and never sends an empty message', async () => {
    const { stdin, sent } = renderChat([]);
    await press(stdin, KEYS.enter, ' ', KEYS.enter);
    expect(sent).toEqual([]);
    await press(stdin, KEYS.backspace, 'a', 'c', KEYS.left, 'b', KEYS.enter);
    expect(sent).toEqual(['abc']);
  });

  it('keys typed together are each a key: two lines with Enter are two messages', async () => {
    const { stdin, sent } = renderChat([]);
    await press(stdin, 'line one\rline two\r');
    expect(sent).toEqual(['line one', 'line two']);
  });

  it('a bracketed paste keeps its newlines as text: it is sent only by Enter', async () => {
    const { stdin, sent, lastFrame } = renderChat([]);
    await press(stdin, '\u001b[200~line one\r\nline two\rthree\u001b[201~');
    expect(sent).toEqual([]);
    expect(lastFrame()).toMatch(/> line one\n\s+line two\n\s+three/);
    await press(stdin, KEYS.enter);
    expect(sent).toEqual(['line one\nline two\nthree']);
  });

  it('Esc goes back, Ctrl+R retries, Ctrl+B toggles the bell', async () => {
    const { stdin, actions } = renderChat([]);
    await press(stdin, KEYS.ctrlR, KEYS.ctrlB, KEYS.escape);
    await settle();
    expect(actions.retry).toHaveBeenCalledTimes(1);
    expect(actions.toggleBell).toHaveBeenCalledTimes(1);
    expect(actions.back).toHaveBeenCalledTimes(1);
  });

  it('renders only the rows that fit, and PageUp scrolls, then loads older history at the top', async () => {
    const many = Array.from({ length: 40 }, (_, i) =>
      message(`n${i}`, { seq: i + 1, text: `number ${i}` }),
    );
    const { stdin, lastFrame, actions } = renderChat(many, { height: 12 });
    const first = lastFrame() ?? '';
    expect(first).toContain('number 39');
    expect(first).not.toContain('number 20');
    expect(first.split('\n').length).toBeLessThanOrEqual(12);
    await press(stdin, KEYS.pageUp);
    expect(lastFrame()).not.toContain('number 39');
    expect(lastFrame()).toContain('lines below');
    for (let i = 0; i < 6; i++) await press(stdin, KEYS.pageUp);
    expect(lastFrame()).toContain('number 0');
    expect(lastFrame()).toContain('PgUp loads older messages');
    expect(actions.loadOlder).toHaveBeenCalled();
    for (let i = 0; i < 8; i++) await press(stdin, KEYS.pageDown);
    expect(lastFrame()).toContain('number 39');
  });

  it('at 40 columns the header cuts the name, never the trust state; an unnamed peer’s id shows once', () => {
    const narrow =
      renderChat([], {
        sum: { name: 'a rather long display name', trust: 'changed' },
        width: 40,
      }).lastFrame() ?? '';
    expect(narrow.split('\n')[0]).toContain('KEY CHANGED: sending blocked');
    const unnamed =
      renderChat([], { sum: { name: `${BOB.slice(0, 20)}…` }, width: 100 }).lastFrame() ?? '';
    expect(unnamed.split('\n')[0]?.split(BOB.slice(0, 20)).length).toBe(2);
  });

  it('wrapped lines of a message keep its column', () => {
    const frame =
      renderChat([message('w', { text: 'word '.repeat(40).trim() })], { width: 50 }).lastFrame() ??
      '';
    const lines = frame.split('\n').filter((line) => line.includes('word'));
    expect(lines.length).toBeGreaterThan(2);
    const column = lines[0]?.indexOf('word');
    for (const line of lines.slice(1)) expect(line.indexOf('word')).toBe(column);
  });

  it('says when older messages are loading and when the conversation begins', () => {
    expect(renderChat([message('x')], { log: { loadingOlder: true } }).lastFrame()).toContain(
      'loading older messages…',
    );
    expect(renderChat([message('x')], { log: { hasOlder: false } }).lastFrame()).toContain(
      'beginning of the conversation',
    );
  });

  it('shows a notice instead of the key hints, red for errors', () => {
    const frame =
      renderChat([], {
        snap: { notice: { text: 'Not sent: the key of bob changed.', tone: 'error' } },
      }).lastFrame() ?? '';
    expect(frame).toContain('Not sent: the key of bob changed.');
    expect(frame).not.toContain('Enter send');
  });

  it('redraws to a new width (a resize)', () => {
    const long = message('long', { text: 'word '.repeat(30).trim() });
    const { lastFrame, rerender, actions } = renderChat([long], { width: 100 });
    const wrapped = (frame: string) =>
      frame.split('\n').filter((line) => line.includes('word')).length;
    const wide = wrapped(lastFrame() ?? '');
    rerender(
      <KeyboardProvider>
        <ChatView
          snapshot={snapshot()}
          summary={summary()}
          log={log([long])}
          width={40}
          height={20}
          actions={actions}
        />
      </KeyboardProvider>,
    );
    const narrow = lastFrame() ?? '';
    expect(wrapped(narrow)).toBeGreaterThan(wide);
    for (const line of narrow.split('\n')) expect(line.length).toBeLessThanOrEqual(40);
  });
});
