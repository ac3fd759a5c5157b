import { describe, expect, it } from '@jest/globals';
import {
  identifierFromUsername,
  InvalidUsernameError,
  isIdentifier,
  normalizeUsername,
} from '../../src/core/index.js';
import { captureError } from '../support/capture-error.js';

describe('normalizeUsername', () => {
  it('folds case, width and surrounding space so one person has one name', () => {
    expect(normalizeUsername('  Alice\t')).toBe('alice');
    expect(normalizeUsername('ＡＬＩＣＥ')).toBe('alice');
    expect(normalizeUsername('carol.smith-99')).toBe('carol.smith-99');
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(33)],
    ['inner space', 'al ice'],
    ['accented letter', 'émile'],
    ['slash', 'a/b'],
    ['NUL byte', 'alice\u0000'],
    ['empty', ''],
    ['only spaces', '     '],
    ['huge input', 'a'.repeat(1_000_000)],
  ])('refuses a name that is %s', (_why, name) => {
    expect(() => normalizeUsername(name)).toThrow(InvalidUsernameError);
  });

  it.each([null, undefined, 42, {}, ['alice']])('refuses a non-string %p', (value) => {
    expect(() => normalizeUsername(value)).toThrow(InvalidUsernameError);
  });

  it('counts the 256 raw code points of the pre-check in code points, not UTF-16 units', () => {
    const bold = String.fromCodePoint(0x1d41a, 0x1d425, 0x1d422, 0x1d41c, 0x1d41e); // 𝐚𝐥𝐢𝐜𝐞
    expect(normalizeUsername(bold + ' '.repeat(251))).toBe('alice'); // 256 code points, 261 units
    expect(() => normalizeUsername(bold + ' '.repeat(252))).toThrow(InvalidUsernameError);
    expect(() => normalizeUsername('a'.repeat(3) + ' '.repeat(254))).toThrow(InvalidUsernameError);
  });

  it('trims exactly the white space of JavaScript trim, which Python strip() differs from', () => {
    expect(normalizeUsername('\ufeffalice\u1680')).toBe('alice');
    for (const edge of ['\u0085', '\u001c', '\u001f', '\u180e', '\u200b'])
      expect(() => normalizeUsername(`alice${edge}`)).toThrow(InvalidUsernameError);
  });

  it('never echoes the username in its error message', () => {
    const error = captureError(() => normalizeUsername('secret name'));
    expect(error).toBeInstanceOf(InvalidUsernameError);
    expect(error.message).not.toContain('secret');
  });
});

describe('identifierFromUsername', () => {
  it('is the lowercase hex SHA-256 of the normalized name', () => {
    // sha256("alice"), computed independently with `printf alice | sha256sum`.
    expect(identifierFromUsername('ALICE')).toBe(
      '2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e90',
    );
    expect(isIdentifier(identifierFromUsername('bob'))).toBe(true);
  });

  it('recognizes only 64 lowercase hex digits as an identifier', () => {
    expect(isIdentifier('A'.repeat(64))).toBe(false);
    expect(isIdentifier('a'.repeat(63))).toBe(false);
    expect(isIdentifier(42)).toBe(false);
  });
});
