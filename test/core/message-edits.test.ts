import { describe, expect, it } from '@jest/globals';
import {
  applyChange,
  checkChange,
  decodeBody,
  EditConversationMismatchError,
  EditForbiddenError,
  EditTargetInvalidError,
  encodeBody,
  excerptOf,
  foldConversation,
  groupConversation,
  MalformedBodyError,
  MalformedEncodingError,
  MalformedInputError,
  OversizeError,
  pairConversation,
  quoteOf,
  REPLY_EXCERPT_CHARS,
  utf8ToBytes,
  viewOf,
  type Body,
  type ChangeMessage,
  type MessageOrigin,
  type ShownMessage,
} from '../../src/core/index.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const AB = pairConversation(A, B);
const id = (n: number) => n.toString(16).padStart(32, '0');

function msg(n: number, from: string, body: Body, conversation = AB, time = n): MessageOrigin {
  return { id: id(n), from, conversation, time, body };
}
const text = (t: string): Body => ({ v: 1, type: 'text', text: t });
const edit = (target: number, t: string): Body => ({
  v: 1,
  type: 'edit',
  target: id(target),
  text: t,
});
const del = (target: number): Body => ({ v: 1, type: 'delete', target: id(target) });
const reply = (target: number, t: string): Body => ({
  v: 1,
  type: 'reply',
  target: id(target),
  text: t,
});

describe('edit, delete and reply bodies', () => {
  it('encode to the canonical order and decode back', () => {
    const bodies: Body[] = [edit(1, 'new'), del(1), reply(1, 'yes')];
    const expected = [
      `{"v":1,"type":"edit","target":"${id(1)}","text":"new"}`,
      `{"v":1,"type":"delete","target":"${id(1)}"}`,
      `{"v":1,"type":"reply","target":"${id(1)}","text":"yes"}`,
    ];
    bodies.forEach((body, i) => {
      const bytes = encodeBody(body);
      expect(Buffer.from(bytes).toString('utf8')).toBe(expected[i]);
      expect(decodeBody(bytes)).toEqual(body);
    });
  });

  it('refuses a reordered, extended or ill-targeted body on receipt (MALFORMED_BODY)', () => {
    for (const raw of [
      `{"v":1,"type":"edit","text":"new","target":"${id(1)}"}`,
      `{"v":1,"type":"delete","target":"${id(1)}","text":"x"}`,
      `{"v":1,"type":"reply","target":"${id(0xab).toUpperCase()}","text":"x"}`,
      `{"v":1,"type":"edit","target":"${id(1)}","text":""}`,
      `{"v":1,"type":"reply","target":"${id(1)}","text":"a\u202eb"}`,
    ]) {
      expect(() => decodeBody(utf8ToBytes(raw))).toThrow(MalformedBodyError);
    }
  });

  it('holds an edit and a reply to the text limits on the sender side', () => {
    expect(() => encodeBody(edit(1, 'x'.repeat(16 * 1024 + 1)))).toThrow(OversizeError);
    expect(() => encodeBody(reply(1, ''))).toThrow(MalformedInputError);
    expect(() => encodeBody({ v: 1, type: 'delete', target: 'Z'.repeat(32) })).toThrow(
      MalformedEncodingError,
    );
    expect(() => encodeBody({ v: 1, type: 'delete', target: id(1) + '0' })).toThrow(OversizeError);
  });
});

describe('checkChange', () => {
  const original = msg(1, A, text('hi'));
  const aliceEdit = msg(2, A, edit(1, 'hello')) as ChangeMessage;

  it('accepts the sender changing its own message in the same conversation', () => {
    expect(() => checkChange(aliceEdit, original)).not.toThrow();
    expect(() => checkChange(msg(3, A, del(1)) as ChangeMessage, original)).not.toThrow();
  });

  it('refuses another identity: EDIT_FORBIDDEN', () => {
    expect(() => checkChange({ ...aliceEdit, from: B }, original)).toThrow(EditForbiddenError);
  });

  it('refuses a target of another conversation: EDIT_CONVERSATION_MISMATCH', () => {
    const elsewhere = { ...original, conversation: pairConversation(A, C) };
    expect(() => checkChange(aliceEdit, elsewhere)).toThrow(EditConversationMismatchError);
    const group = { ...original, conversation: groupConversation('d'.repeat(64)) };
    expect(() => checkChange(aliceEdit, group)).toThrow(EditConversationMismatchError);
  });

  it('refuses an edit of an edit, a delete or a hello: EDIT_TARGET_INVALID', () => {
    const editOfEdit = msg(4, A, edit(2, 'again')) as ChangeMessage;
    expect(() => checkChange(editOfEdit, aliceEdit)).toThrow(EditTargetInvalidError);
    const hello = msg(1, A, { v: 1, type: 'hello', username: 'alice' });
    expect(() => checkChange(aliceEdit, hello)).toThrow(EditTargetInvalidError);
  });

  it('treats a pair the same whichever way it was sent', () => {
    expect(pairConversation(A, B)).toBe(pairConversation(B, A));
    expect(pairConversation(A, A)).not.toBe(pairConversation(A, B));
  });
});

describe('applyChange', () => {
  const base = viewOf(msg(1, A, text('one')) as ShownMessage);
  const e2 = msg(2, A, edit(1, 'two')) as ChangeMessage;
  const e3 = msg(3, A, edit(1, 'three')) as ChangeMessage;
  const d4 = msg(4, A, del(1)) as ChangeMessage;

  it('shows the latest edit by the sender time, in whatever order they come', () => {
    const forward = applyChange(applyChange(base, e2), e3);
    const backward = applyChange(applyChange(base, e3), e2);
    expect(forward).toEqual(backward);
    expect(forward).toMatchObject({ text: 'three', edited: true, editedAt: 3, editId: id(3) });
  });

  it('makes a delete final: an edit of a deleted message is ignored, before or after', () => {
    const deleted = applyChange(applyChange(base, e2), d4);
    expect(deleted).toMatchObject({ text: '', deleted: true, deletedAt: 4 });
    expect(applyChange(deleted, e3)).toBe(deleted);
    const lateEdit = msg(9, A, edit(1, 'late')) as ChangeMessage;
    expect(applyChange(applyChange(base, d4), lateEdit).deleted).toBe(true);
  });

  it('breaks a tie of times by packet id', () => {
    const x = { ...e2, time: 5 };
    const y = { ...e3, time: 5 };
    expect(applyChange(applyChange(base, y), x).text).toBe('three');
  });
});

describe('quoteOf and excerptOf', () => {
  const target = viewOf(msg(1, A, text('first line\nsecond')) as ShownMessage);
  const answer = msg(2, B, reply(1, 'yes'));

  it('quotes the first line of a message of this conversation', () => {
    expect(quoteOf(answer, target)).toEqual({
      state: 'shown',
      id: id(1),
      from: A,
      excerpt: 'first line',
    });
  });

  it('says missing for an absent target or one of another conversation, deleted for a deleted one', () => {
    expect(quoteOf(answer, undefined)).toEqual({ state: 'missing', id: id(1) });
    expect(quoteOf(answer, { ...target, conversation: pairConversation(A, C) })).toEqual({
      state: 'missing',
      id: id(1),
    });
    expect(quoteOf(answer, { ...target, deleted: true, text: '' })).toEqual({
      state: 'deleted',
      id: id(1),
    });
    expect(quoteOf(msg(3, B, text('plain')), target)).toBeNull();
  });

  it('cuts a long line', () => {
    const cut = excerptOf('x'.repeat(200));
    expect(Array.from(cut)).toHaveLength(REPLY_EXCERPT_CHARS);
    expect(cut.endsWith('…')).toBe(true);
  });
});

describe('foldConversation', () => {
  it('applies accepted changes, refuses forged ones and keeps unknown targets pending', () => {
    const AC = pairConversation(A, C);
    const view = foldConversation([
      msg(1, A, text('hi bob')),
      msg(2, B, text('hi alice')),
      msg(3, A, edit(1, 'hello bob')),
      msg(4, B, edit(1, 'alice is wrong')),
      msg(5, A, del(2)),
      msg(6, A, edit(1, 'elsewhere'), AC),
      msg(7, A, edit(99, 'later')),
      msg(8, B, reply(1, 'sure')),
      msg(9, B, reply(98, 'what?')),
    ]);
    expect(view.messages.map((m) => [m.id, m.text, m.edited, m.deleted])).toEqual([
      [id(1), 'hello bob', true, false],
      [id(2), 'hi alice', false, false],
      [id(8), 'sure', false, false],
      [id(9), 'what?', false, false],
    ]);
    expect(view.refused.map((r) => [r.change.id, r.error.code])).toEqual([
      [id(4), 'EDIT_FORBIDDEN'],
      [id(5), 'EDIT_FORBIDDEN'],
      [id(6), 'EDIT_CONVERSATION_MISMATCH'],
    ]);
    expect(view.pending.map((c) => c.id)).toEqual([id(7)]);
    expect(view.messages[2]?.quote).toMatchObject({ state: 'shown', excerpt: 'hello bob' });
    expect(view.messages[3]?.quote).toEqual({ state: 'missing', id: id(98) });
  });

  it('prefers, for an id served twice, the candidate of the same conversation and sender', () => {
    const view = foldConversation([
      msg(1, B, text('bob says'), pairConversation(B, C)),
      msg(1, A, text('alice says')),
      msg(2, A, edit(1, 'alice edits')),
    ]);
    expect(view.refused).toEqual([]);
    expect(view.messages.map((m) => m.text)).toEqual(['bob says', 'alice edits']);
  });

  it('a packet served twice (a hostile relay) is changed in every copy: a delete hides both', () => {
    const original = msg(1, A, text('secret'));
    const view = foldConversation([original, msg(2, A, del(1)), { ...original }]);
    expect(view.refused).toEqual([]);
    expect(view.messages.map((m) => [m.text, m.deleted])).toEqual([
      ['', true],
      ['', true],
    ]);
    const edited = foldConversation([original, { ...original }, msg(3, A, edit(1, 'fixed'))]);
    expect(edited.messages.map((m) => m.text)).toEqual(['fixed', 'fixed']);
  });
});
