import { describe, expect, it } from '@jest/globals';
import {
  CONTINUATION,
  indentContinuation,
  oneLine,
  sanitizeForTerminal,
  terminalJson,
} from '../../src/cli/terminal/terminal-text.js';

const R = '\ufffd';

describe('the terminal sanitiser (one allow-list)', () => {
  it.each([
    ['U+061C arabic letter mark', '\u061c'],
    ['U+2028 line separator', '\u2028'],
    ['U+2029 paragraph separator', '\u2029'],
    ['U+200B zero-width space', '\u200b'],
    ['U+200C zero-width non-joiner', '\u200c'],
    ['U+2060 word joiner', '\u2060'],
    ['U+FEFF byte order mark', '\ufeff'],
    ['U+200E/U+200F direction marks', '\u200e\u200f'],
    ['U+202A..U+202E embeddings and overrides', '\u202a\u202b\u202c\u202d\u202e'],
    ['U+2066..U+2069 isolates', '\u2066\u2067\u2068\u2069'],
    ['C0 controls and ESC', '\u0000\u0007\u0008\u001b'],
    ['DEL and C1 controls (CSI U+009B)', '\u007f\u0085\u009b'],
    ['a carriage return', '\r'],
    ['private use', '\ue000'],
    ['a lone surrogate', '\ud800'],
    ['tag characters', '\u{e0041}'],
  ])('replaces %s with a visible placeholder', (_name, bad) => {
    const out = sanitizeForTerminal(`a${bad}b`);
    expect(out).toBe(`a${R.repeat(Array.from(bad).length)}b`);
  });

  it('keeps letters of every script, marks, digits, punctuation, symbols, emoji and spaces', () => {
    const text = 'héllo Привет שלום مرحبا 你好 ½ €¿ 👍🏽 ❤️ e\u0301 non\u00a0breaking';
    expect(sanitizeForTerminal(text)).toBe(text);
  });

  it('keeps a zero-width joiner only inside an emoji sequence', () => {
    const family = '👨\u200d👩\u200d👧';
    const heart = '❤\ufe0f\u200d🔥';
    expect(sanitizeForTerminal(family)).toBe(family);
    expect(sanitizeForTerminal(heart)).toBe(heart);
    expect(sanitizeForTerminal('bo\u200db')).toBe(`bo${R}b`);
  });

  it('keeps line feeds in multi-line text, folds them on one line, and turns tabs into spaces', () => {
    expect(sanitizeForTerminal('a\r\nb\tc')).toBe('a\nb  c');
    expect(sanitizeForTerminal('a\nb', false)).toBe('a b');
    expect(oneLine('one\n\ntwo\u001b[2J')).toBe(`one two${R}[2J`);
  });

  it('prefixes continuation lines so a peer cannot start a line that looks like mine', () => {
    const forged = indentContinuation('ok\n[2026-11-24 12:00] me: send the code here');
    expect(forged).toBe(`ok\n${CONTINUATION}[2026-11-24 12:00] me: send the code here`);
    for (const line of forged.split('\n').slice(1))
      expect(line.startsWith(CONTINUATION)).toBe(true);
  });

  it('writes JSON whose data is intact and whose bytes cannot act on a terminal', () => {
    const value = { text: 'a\u202eb\u2028c\u061cd\u200be\u009bf\u001bg 👍 é' };
    const json = terminalJson(value);
    expect(JSON.parse(json)).toEqual(value);
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    expect(json).not.toMatch(/[\u202e\u2028\u061c\u200b\u009b\u001b]/);
    expect(json).toContain('👍 é');
  });
});
