import { utf8ToBytes } from './encoding.js';

const labelBytes = new Map<string, Uint8Array>();

function bytesOfLabel(label: string): Uint8Array {
  let bytes = labelBytes.get(label);
  if (!bytes) {
    bytes = utf8ToBytes(label);
    labelBytes.set(label, bytes);
  }
  return bytes;
}

/**
 * The one canonical framing of protocol v1: ASCII label, a 0x00 byte, then each field as a
 * 4-byte big-endian length followed by its bytes. Unambiguous, so no two field lists collide.
 */
export function framedBytes(label: string, fields: readonly Uint8Array[]): Uint8Array {
  const prefix = bytesOfLabel(label);
  let length = prefix.length + 1;
  for (const field of fields) length += 4 + field.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  out.set(prefix, 0);
  let offset = prefix.length + 1;
  for (const field of fields) {
    view.setUint32(offset, field.length, false);
    out.set(field, offset + 4);
    offset += 4 + field.length;
  }
  return out;
}

/** A safe integer as 8 big-endian bytes, the encoding of times in signed data. */
export function uint64Bytes(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), false);
  return out;
}
