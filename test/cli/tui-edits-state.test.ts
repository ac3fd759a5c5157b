import { describe, expect, it } from '@jest/globals';
import { foldChat } from '../../src/cli/tui/chat-fold.js';
import type { ChatMessage } from '../../src/cli/tui/chat-state.js';
import {
  composeBanner,
  composedBody,
  lastEditable,
  moveSelection,
  startEdit,
  startReply,
} from '../../src/cli/tui/compose-mode.js';
import { layoutRows, rowLines } from '../../src/cli/tui/message-rows.js';

const ME = 'a'.repeat(64);
const BOB = 'b'.repeat(64);
const id = (n: number) => n.toString(16).padStart(32, '0');

function msg(n: number, mine: boolean, extra: Partial<ChatMessage> = {}): ChatMessage {
  return {
    id: id(n),
    seq: n,
    time: 1_700_000_000_000 + n,
    direction: mine ? 'outgoing' : 'incoming',
    text: `text ${String(n)}`,
    ...(mine ? { status: 'sent' as const } : {}),
    ...extra,
  };
}

describe('a conversation folded for the screen', () => {
  it('applies my edit and a delete to their targets, neither shown as a line', () => {
    const shown = foldChat(
      [
        msg(1, true),
        msg(2, false),
        msg(3, true, { edits: id(1), text: 'fixed' }),
        msg(4, false, { deletes: id(2), text: '' }),
      ],
      ME,
      BOB,
    );
    expect(shown.map((m) => [m.id, m.text, m.edited, m.deleted])).toEqual([
      [id(1), 'fixed', true, undefined],
      [id(2), '', undefined, true],
    ]);
  });

  it('refuses an edit of my message by the peer (a warning where it came; my text stays)', () => {
    const shown = foldChat(
      [msg(1, true), msg(2, false, { edits: id(1), text: 'bob rewrote it' })],
      ME,
      BOB,
    );
    expect(shown[0]?.text).toBe('text 1');
    expect(shown[0]?.edited).toBeUndefined();
    expect(shown[1]?.warning).toMatch(/did not send it/);
  });

  it('gives a reply the excerpt of what it quotes, or says it is deleted or not loaded', () => {
    const shown = foldChat(
      [
        msg(1, true, { text: 'the original\nsecond line' }),
        msg(2, false, { replyTo: id(1), text: 'yes' }),
        msg(3, false, { replyTo: id(9), text: 'to something older' }),
        msg(4, false),
        msg(5, false, { deletes: id(4), text: '' }),
        msg(6, true, { replyTo: id(4), text: 'to a deleted one' }),
      ],
      ME,
      BOB,
    );
    expect(shown[1]?.quote).toEqual({ state: 'shown', mine: true, excerpt: 'the original' });
    expect(shown[2]?.quote).toEqual({ state: 'missing' });
    expect(shown.find((m) => m.id === id(6))?.quote).toEqual({ state: 'deleted' });
  });

  it('keeps what the local history already folded (edited, deleted) and waits for an unknown target', () => {
    const shown = foldChat(
      [
        msg(1, false, { edited: true, text: 'as edited' }),
        msg(2, false, { edits: id(0), text: 'x' }),
      ],
      ME,
      BOB,
    );
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatchObject({ text: 'as edited', edited: true });
  });

  it('draws (edited), "message deleted" and the quote line', () => {
    const shown = foldChat(
      [
        msg(1, true),
        msg(2, true, { edits: id(1), text: 'new words' }),
        msg(3, false),
        msg(4, false, { deletes: id(3), text: '' }),
        msg(5, false, { replyTo: id(1), text: 'a reply' }),
      ],
      ME,
      BOB,
    );
    const { rows, prefix } = layoutRows(shown, { mine: 'alice', theirs: 'bob' }, 80);
    const text = rowLines(rows, prefix, 80)
      .map((line) => line.spans.map((span) => span.text).join(''))
      .join('\n');
    expect(text).toMatch(/alice\s+new words \(edited\) ✓/);
    expect(text).toMatch(/bob\s+message deleted/);
    expect(text).toMatch(/↪ alice: new words\n\s+a reply/);
  });
});

describe('editing and replying', () => {
  const shown = foldChat(
    [msg(1, true), msg(2, false), msg(3, true, { status: 'failed' }), msg(4, false)],
    ME,
    BOB,
  );

  it('↑ edits my newest message that has gone out (not a failed one)', () => {
    expect(lastEditable(shown)?.id).toBe(id(1));
    expect(lastEditable(foldChat([msg(1, false)], ME, BOB))).toBeUndefined();
  });

  it('Tab starts at the newest message; ↑↓ move within those that can be quoted', () => {
    expect(moveSelection(shown, null, 0)).toBe(id(4));
    expect(moveSelection(shown, id(4), -1)).toBe(id(2));
    expect(moveSelection(shown, id(1), -1)).toBe(id(1));
    expect(moveSelection([], null, 0)).toBeNull();
  });

  it('Enter sends the body the mode asks for, and the banner says what the draft is for', () => {
    const edit = startEdit(shown[0] ?? msg(1, true), 'my draft');
    expect(composedBody(edit, 'changed')).toEqual({
      v: 1,
      type: 'edit',
      target: id(1),
      text: 'changed',
    });
    const reply = startReply(shown[1] ?? msg(2, false));
    expect(composedBody(reply, 'sure')).toEqual({
      v: 1,
      type: 'reply',
      target: id(2),
      text: 'sure',
    });
    expect(composedBody(null, 'plain')).toBe('plain');
    expect(composeBanner(reply, { mine: 'alice', theirs: 'bob\u202e' })).toBe(
      '↪ replying to bob\ufffd: text 2 · Esc cancels',
    );
    expect(composeBanner(edit, { mine: 'alice', theirs: 'bob' })).toMatch(/^editing: text 1/);
  });
});
