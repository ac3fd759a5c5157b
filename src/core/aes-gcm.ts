import { createCipheriv, createDecipheriv } from 'node:crypto';
import { concatBytes } from './encoding.js';
import { asBytes } from './node-bytes.js';

/** AES-256-GCM IV length in bytes (96 bits, the only size GCM is designed for). */
export const GCM_IV_BYTES = 12;
/** AES-256-GCM tag length in bytes; the tag is appended to the ciphertext on the wire. */
export const GCM_TAG_BYTES = 16;
/** AES-256 key length in bytes. */
export const AES_KEY_BYTES = 32;

/** Encrypts with AES-256-GCM and returns ciphertext followed by the 16-byte tag. */
export function gcmEncrypt(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): Uint8Array {
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
  cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return concatBytes([asBytes(body), asBytes(final), asBytes(cipher.getAuthTag())]);
}

/** Decrypts ciphertext-with-tag; returns null when the tag does not verify (wrong key or tampering). */
export function gcmDecrypt(
  key: Uint8Array,
  iv: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | null {
  if (sealed.length < GCM_TAG_BYTES) return null;
  const split = sealed.length - GCM_TAG_BYTES;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: GCM_TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(split));
    const body = decipher.update(sealed.subarray(0, split));
    return concatBytes([asBytes(body), asBytes(decipher.final())]);
  } catch {
    return null;
  }
}
