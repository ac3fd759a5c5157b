import { z } from 'zod';
import { AES_KEY_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, gcmDecrypt, gcmEncrypt } from './aes-gcm.js';
import { base64ToBytes, bytesToBase64, utf8ToBytes } from './encoding.js';
import { WrongPasswordError } from './errors.js';
import { importPrivateKey, type PrivateKey } from './keys.js';
import { systemRandom, type RandomSource } from './random.js';
import { base64Bytes, identifierSchema, parseWire } from './schemas.js';

/** Largest PKCS#8 private key accepted inside a wrap (RSA-2048 is about 1,218 bytes). */
const MAX_PKCS8_BYTES = 4096;

/** The private key encrypted under the password-derived key, as stored by the server. */
export const wrappedPrivateKeySchema = z.strictObject({
  iv: base64Bytes(GCM_IV_BYTES),
  ct: base64Bytes(GCM_TAG_BYTES + 1, MAX_PKCS8_BYTES + GCM_TAG_BYTES),
});

/** A wrapped private key, as parsed from the wire. */
export type WrappedPrivateKey = z.infer<typeof wrappedPrivateKeySchema>;

function identifierAad(identifier: string): Uint8Array {
  return utf8ToBytes(parseWire(identifierSchema, identifier, 'identifier'));
}

/** Encrypts the PKCS#8 private key with AES-256-GCM, bound to its owner's identifier by the AAD. */
export function wrapPrivateKey(
  privateKey: PrivateKey,
  keyEncryptionKey: Uint8Array,
  identifier: string,
  random: RandomSource = systemRandom,
): WrappedPrivateKey {
  if (keyEncryptionKey.length !== AES_KEY_BYTES) throw new TypeError('The KEK must be 32 bytes.');
  const iv = random(GCM_IV_BYTES);
  const ct = gcmEncrypt(keyEncryptionKey, iv, privateKey.pkcs8, identifierAad(identifier));
  return { iv: bytesToBase64(iv), ct: bytesToBase64(ct) };
}

/**
 * Decrypts a wrapped private key for this identifier. A wrong password, or a key wrapped for
 * another identifier (a server handing out someone else's), fails the same way: WrongPasswordError.
 * Returns a bare private key: pair it with assertKeyPairMatches or keyPairFromPrivate.
 */
export function unwrapPrivateKey(
  wrapped: unknown,
  keyEncryptionKey: Uint8Array,
  identifier: string,
): PrivateKey {
  const parsed = parseWire(wrappedPrivateKeySchema, wrapped, 'wrapped private key');
  const pkcs8 = gcmDecrypt(
    keyEncryptionKey,
    base64ToBytes(parsed.iv),
    base64ToBytes(parsed.ct),
    identifierAad(identifier),
  );
  if (pkcs8 === null) {
    throw new WrongPasswordError(
      'Wrong password: the private key did not decrypt. Check the username and password.',
    );
  }
  return importPrivateKey(pkcs8);
}
