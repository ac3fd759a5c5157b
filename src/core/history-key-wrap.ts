import { z } from 'zod';
import { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { base64ToBytes, bytesToBase64, concatBytes, utf8ToBytes } from './encoding.js';
import { LABELS } from './labels.js';
import { systemRandom, type RandomSource } from './random.js';
import { base64Bytes, identifierSchema, parseWire } from './schemas.js';

/** Length of the local history key (the raw key of the encrypted database) in bytes. */
export const HISTORY_KEY_BYTES = 32;

/** The local history key wrapped under the password (AES-256-GCM), as the profile keeps it. */
export const wrappedHistoryKeySchema = z.strictObject({
  iv: base64Bytes(GCM_IV_BYTES),
  ct: base64Bytes(HISTORY_KEY_BYTES + GCM_TAG_BYTES, HISTORY_KEY_BYTES + GCM_TAG_BYTES),
});

/** A wrapped history key, as parsed from the profile. */
export type WrappedHistoryKey = z.infer<typeof wrappedHistoryKeySchema>;

function wrapAad(identifier: string): Uint8Array {
  return concatBytes([
    utf8ToBytes(LABELS.localHistoryWrap),
    new Uint8Array([0]),
    utf8ToBytes(parseWire(identifierSchema, identifier, 'identifier')),
  ]);
}

/** A fresh random history key. */
export function newHistoryKey(random: RandomSource = systemRandom): Uint8Array {
  return random(HISTORY_KEY_BYTES);
}

/** Encrypts the history key under the password's history wrap key, bound to the account by the AAD. */
export function wrapHistoryKey(
  historyKey: Uint8Array,
  wrapKey: Uint8Array,
  identifier: string,
  random: RandomSource = systemRandom,
): WrappedHistoryKey {
  if (historyKey.length !== HISTORY_KEY_BYTES || wrapKey.length !== AES_KEY_BYTES)
    throw new TypeError('The history key and its wrap key are 32 bytes each.');
  const iv = random(GCM_IV_BYTES);
  return {
    iv: bytesToBase64(iv),
    ct: bytesToBase64(gcmEncrypt(wrapKey, iv, historyKey, wrapAad(identifier))),
  };
}

/** The history key, or null when the wrap does not open with this key (another password or account). */
export function unwrapHistoryKey(
  wrapped: unknown,
  wrapKey: Uint8Array,
  identifier: string,
): Uint8Array | null {
  const parsed = parseWire(wrappedHistoryKeySchema, wrapped, 'wrapped history key');
  return gcmDecrypt(
    wrapKey,
    base64ToBytes(parsed.iv),
    base64ToBytes(parsed.ct),
    wrapAad(identifier),
  );
}
