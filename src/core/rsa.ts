import {
  constants,
  privateDecrypt,
  publicEncrypt,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { asBuffer, asBytes } from './node-bytes.js';

/** RSA-PSS salt length: the SHA-256 digest length, as RFC 8017 recommends. */
export const PSS_SALT_BYTES = 32;
/** Size of an RSA-2048 signature or OAEP ciphertext in bytes. */
export const RSA_BYTES = 256;

/** RSA-PSS-SHA256 (MGF1-SHA256, 32-byte salt) signature of a canonical byte string. */
export function pssSign(privateKey: KeyObject, data: Uint8Array): Uint8Array {
  return asBytes(
    sign('sha256', data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: PSS_SALT_BYTES,
    }),
  );
}

/** Verifies an RSA-PSS-SHA256 signature; any malformed input is simply "does not verify". */
export function pssVerify(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== RSA_BYTES) return false;
  try {
    return verify(
      'sha256',
      data,
      { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: PSS_SALT_BYTES },
      signature,
    );
  } catch {
    return false;
  }
}

/** RSA-OAEP-SHA256 (MGF1-SHA256, empty label) encryption of a message key. */
export function oaepEncrypt(publicKey: KeyObject, plaintext: Uint8Array): Uint8Array {
  return asBytes(
    publicEncrypt(
      { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      plaintext,
    ),
  );
}

/** RSA-OAEP-SHA256 decryption; returns null instead of throwing so callers map it to one error. */
export function oaepDecrypt(privateKey: KeyObject, ciphertext: Uint8Array): Uint8Array | null {
  if (ciphertext.length !== RSA_BYTES) return null;
  try {
    return asBytes(
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        asBuffer(ciphertext),
      ),
    );
  } catch {
    return null;
  }
}
