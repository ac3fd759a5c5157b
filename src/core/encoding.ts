import naclUtil from 'tweetnacl-util';
import { MalformedEncodingError } from './errors.js';

const HEX_DIGITS = '0123456789abcdef';
const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const NOT_BASE64 = 255;
/** Value of each character code in the base64 alphabet, NOT_BASE64 elsewhere (including `=`). */
const BASE64_VALUES = new Uint8Array(65536).fill(NOT_BASE64);
for (let i = 0; i < BASE64_ALPHABET.length; i++) BASE64_VALUES[BASE64_ALPHABET.charCodeAt(i)] = i;
/** A character outside the alphabet and `=`: one native scan instead of a loop per character. */
const NOT_BASE64_TEXT = /[^A-Za-z0-9+/=]/;
const NOT_HEX = 255;
const HEX_VALUES = new Uint8Array(128).fill(NOT_HEX);
for (let i = 0; i < 16; i++) HEX_VALUES[HEX_DIGITS.charCodeAt(i)] = i;

/** Standard padded base64 (RFC 4648 section 4), the encoding of every binary field on the wire. */
export function bytesToBase64(bytes: Uint8Array): string {
  return naclUtil.encodeBase64(bytes);
}

/**
 * The decoded length of canonical padded base64, or null when the text is not canonical: wrong
 * alphabet, bad padding, or non-zero unused bits (which would give one value two encodings).
 * Checks without decoding, so schemas can vet large fields cheaply.
 */
export function canonicalBase64Length(text: unknown): number | null {
  if (typeof text !== 'string' || text.length % 4 !== 0 || NOT_BASE64_TEXT.test(text)) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const data = text.length - padding;
  const firstPad = text.indexOf('=');
  if (firstPad !== -1 && firstPad < data) return null;
  if (padding > 0) {
    const last = BASE64_VALUES[text.charCodeAt(data - 1)] ?? NOT_BASE64;
    if (last % (padding === 2 ? 16 : 4) !== 0) return null;
  }
  return (text.length / 4) * 3 - padding;
}

/** True when the text is canonical padded base64, for schema checks that must not throw. */
export function isCanonicalBase64(text: unknown): boolean {
  return canonicalBase64Length(text) !== null;
}

/** Decodes base64 strictly: padded, standard alphabet, and canonical. */
export function base64ToBytes(text: unknown, what = 'value'): Uint8Array {
  if (typeof text !== 'string' || canonicalBase64Length(text) === null) {
    throw new MalformedEncodingError(`${what} is not canonical padded base64.`);
  }
  return naclUtil.decodeBase64(text);
}

/** UTF-8 length of a string without encoding it; null when it holds a lone surrogate. */
export function utf8ByteLength(text: string): number | null {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return null;
      bytes += 4;
      i++;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return null;
    else bytes += 3;
  }
  return bytes;
}

/** UTF-8 bytes of a string; a lone surrogate is refused rather than silently replaced. */
export function utf8ToBytes(text: string, what = 'text'): Uint8Array {
  try {
    return naclUtil.decodeUTF8(text);
  } catch (cause) {
    throw new MalformedEncodingError(`${what} is not valid Unicode (lone surrogate).`, { cause });
  }
}

/** Decodes UTF-8 strictly: invalid or overlong sequences are refused, never replaced. */
export function bytesToUtf8(bytes: Uint8Array, what = 'text'): string {
  try {
    return naclUtil.encodeUTF8(bytes);
  } catch (cause) {
    throw new MalformedEncodingError(`${what} is not valid UTF-8.`, { cause });
  }
}

/** Lowercase hex, the encoding of identifiers, packet ids and fingerprints. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += (HEX_DIGITS[byte >> 4] ?? '') + (HEX_DIGITS[byte & 15] ?? '');
  return out;
}

/** Decodes lowercase hex strictly (even length, no uppercase, no prefix). */
export function hexToBytes(text: unknown, what = 'value'): Uint8Array {
  if (typeof text !== 'string' || text.length % 2 !== 0) {
    throw new MalformedEncodingError(`${what} is not lowercase hex.`);
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const high = HEX_VALUES[text.charCodeAt(2 * i)] ?? NOT_HEX;
    const low = HEX_VALUES[text.charCodeAt(2 * i + 1)] ?? NOT_HEX;
    if (high === NOT_HEX || low === NOT_HEX)
      throw new MalformedEncodingError(`${what} is not lowercase hex.`);
    out[i] = (high << 4) | low;
  }
  return out;
}

/** Joins byte arrays, for building the canonical byte strings that get signed. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
