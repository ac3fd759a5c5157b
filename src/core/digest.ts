import { createHash, timingSafeEqual } from 'node:crypto';
import { asBytes } from './node-bytes.js';

/** SHA-256, the hash behind identifiers, fingerprints and login-proof hashes. */
export function sha256(data: Uint8Array): Uint8Array {
  return asBytes(createHash('sha256').update(data).digest());
}

/** SHA-512, iterated for safety numbers as Signal does. */
export function sha512(data: Uint8Array): Uint8Array {
  return asBytes(createHash('sha512').update(data).digest());
}

/** Compares secrets in constant time; unequal lengths are simply unequal. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
