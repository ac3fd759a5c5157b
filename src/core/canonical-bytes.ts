import { concatBytes, utf8ToBytes } from './encoding.js';

/**
 * The one canonical framing of protocol v1: ASCII label, a 0x00 byte, then each field as a
 * 4-byte big-endian length followed by its bytes. Unambiguous, so no two field lists collide.
 */
export function framedBytes(label: string, fields: readonly Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [utf8ToBytes(label), Uint8Array.of(0)];
  for (const field of fields) {
    const length = new Uint8Array(4);
    new DataView(length.buffer).setUint32(0, field.length, false);
    parts.push(length, field);
  }
  return concatBytes(parts);
}

/** A safe integer as 8 big-endian bytes, the encoding of times in signed data. */
export function uint64Bytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), false);
  return out;
}
