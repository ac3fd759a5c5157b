import { describe, expect, it } from '@jest/globals';
import {
  authNonceSchema,
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  bytesToUtf8,
  canonicalBase64Length,
  constantTimeEqual,
  hexToBytes,
  identifierSchema,
  isCanonicalBase64,
  MalformedEncodingError,
  packetIdSchema,
  parseWire,
  MetaChatError,
  utf8ByteLength,
  utf8ToBytes,
} from '../../src/core/index.js';
import { captureError } from '../support/capture-error.js';

describe('base64', () => {
  it('round-trips every byte value', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(base64ToBytes(bytesToBase64(all))).toEqual(all);
  });

  it.each([
    ['an invalid character', 'AA*A'],
    ['missing padding', 'AAA'],
    ['URL-safe alphabet', 'A-_A'],
    ['inner whitespace', 'AAAA AAAA'],
    ['non-zero padding bits', 'AB=='],
    ['a trailing newline', 'AAAA\n'],
  ])('refuses %s', (_why, text) => {
    expect(() => base64ToBytes(text)).toThrow(MalformedEncodingError);
    expect(isCanonicalBase64(text)).toBe(false);
  });
});

describe('non-string input from the network', () => {
  it.each([null, true, 1234, ['AAAA'], { a: 1 }])(
    'is refused as %p, never a TypeError',
    (value) => {
      expect(() => base64ToBytes(value)).toThrow(MalformedEncodingError);
      expect(() => hexToBytes(value)).toThrow(MalformedEncodingError);
      expect(canonicalBase64Length(value)).toBeNull();
    },
  );
});

describe('hex', () => {
  it('round-trips and refuses uppercase, odd length and prefixes', () => {
    expect(bytesToHex(hexToBytes('00ff10'))).toBe('00ff10');
    for (const bad of ['00FF', '0', '0x00', 'zz']) {
      expect(() => hexToBytes(bad)).toThrow(MalformedEncodingError);
    }
  });
});

describe('utf8', () => {
  it('round-trips astral characters', () => {
    expect(bytesToUtf8(utf8ToBytes('ça va 👋'))).toBe('ça va 👋');
  });

  it('refuses invalid UTF-8 and lone surrogates instead of replacing them', () => {
    expect(() => bytesToUtf8(Uint8Array.of(0xc3, 0x28))).toThrow(MalformedEncodingError);
    expect(() => bytesToUtf8(Uint8Array.of(0xc0, 0xaf))).toThrow(MalformedEncodingError);
    expect(() => utf8ToBytes('\ud800')).toThrow(MalformedEncodingError);
  });
});

describe('constantTimeEqual', () => {
  it('compares contents and treats different lengths as unequal', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1), Uint8Array.of(1, 2))).toBe(false);
  });
});

describe('canonicalBase64Length', () => {
  it('equals the decoded length for every length from 0 to 300 bytes', () => {
    for (let length = 0; length <= 300; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 37 + length) & 0xff);
      expect(canonicalBase64Length(bytesToBase64(bytes))).toBe(length);
    }
  });

  it('is null for every non-canonical final character', () => {
    // 1 byte leaves 4 unused bits: only 4 of the 64 characters before "==" are canonical.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const canonical = Array.from(alphabet).filter(
      (ch) => canonicalBase64Length(`A${ch}==`) !== null,
    );
    expect(canonical).toEqual(['A', 'Q', 'g', 'w']);
  });
});

describe('utf8ByteLength', () => {
  it('agrees with the encoder on mixed scripts and astral characters', () => {
    for (const text of ['', 'abc', 'ça', '日本語', '👋🏽', 'a\u0000b', `x${'é'.repeat(100)}😀`]) {
      expect(utf8ByteLength(text)).toBe(utf8ToBytes(text).length);
    }
  });

  it('is null for lone surrogates in any position', () => {
    for (const text of ['\ud800', 'a\udc00', '\ud800a', '\udbff\ud800']) {
      expect(utf8ByteLength(text)).toBeNull();
    }
  });
});

describe('canonicalBase64Length against a regex oracle', () => {
  it('agrees on 20,000 random strings over a hostile alphabet', () => {
    const oracle = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    const alphabet = 'AQgwBZaz09+/=-_ \n\u0000é😀';
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let n = 0; n < 20_000; n++) {
      const length = Math.floor(random() * 13);
      let text = '';
      for (let i = 0; i < length; i++)
        text += alphabet[Math.floor(random() * alphabet.length)] ?? '';
      const expected = oracle.test(text) && isCanonicalBase64Slow(text);
      expect(canonicalBase64Length(text) !== null).toBe(expected);
    }
  });
});

/** Canonical when decoding and re-encoding gives the same text (the definition, slowly). */
function isCanonicalBase64Slow(text: string): boolean {
  return Buffer.from(Buffer.from(text, 'base64').toString('base64')).toString() === text;
}

describe('a fixed-length field of the wrong length', () => {
  it('is OVERSIZE when too long, MALFORMED_INPUT when too short, MALFORMED_ENCODING when not hex', () => {
    const codeOf = (schema: Parameters<typeof parseWire>[0], value: string) => {
      const error = captureError(() => parseWire(schema, value, 'field'));
      return error instanceof MetaChatError ? error.code : error.name;
    };
    const cases = {
      longId: codeOf(identifierSchema, 'a'.repeat(65)),
      shortId: codeOf(identifierSchema, 'a'.repeat(63)),
      emptyId: codeOf(identifierSchema, ''),
      upperId: codeOf(identifierSchema, 'A'.repeat(64)),
      shortNotHex: codeOf(identifierSchema, 'g'.repeat(10)),
      longPacketId: codeOf(packetIdSchema, '0'.repeat(33)),
      shortPacketId: codeOf(packetIdSchema, '0'.repeat(31)),
      longBase64: codeOf(authNonceSchema, bytesToBase64(new Uint8Array(33))),
      shortBase64: codeOf(authNonceSchema, bytesToBase64(new Uint8Array(31))),
    };
    expect(cases).toEqual({
      longId: 'OVERSIZE',
      shortId: 'MALFORMED_INPUT',
      emptyId: 'MALFORMED_INPUT',
      upperId: 'MALFORMED_ENCODING',
      shortNotHex: 'MALFORMED_ENCODING',
      longPacketId: 'OVERSIZE',
      shortPacketId: 'MALFORMED_INPUT',
      longBase64: 'OVERSIZE',
      shortBase64: 'MALFORMED_INPUT',
    });
  });
});
