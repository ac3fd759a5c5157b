import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair as nodeGenerateKeyPair,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { base64ToBytes, bytesToBase64, bytesToHex } from './encoding.js';
import { sha256 } from './digest.js';
import { InvalidKeyError, KeyMismatchError, MalformedInputError, OversizeError } from './errors.js';
import { asBuffer, asBytes } from './node-bytes.js';
import { base64Bytes } from './schemas.js';

/** RSA modulus size of protocol v1. */
export const RSA_MODULUS_BITS = 2048;
/** RSA public exponent of protocol v1. */
export const RSA_PUBLIC_EXPONENT = 65537;

const generateRsa = promisify(nodeGenerateKeyPair);

/** A parsed, validated public key: parsed once, then reused for every message. */
export interface PublicKey {
  /** SPKI DER bytes, exactly as received. */
  readonly spki: Uint8Array;
  /** Base64 of the SPKI DER ("headless PEM"), the wire form. */
  readonly encoded: string;
  /** Lowercase hex SHA-256 of the SPKI DER. */
  readonly fingerprint: string;
  readonly keyObject: KeyObject;
}

/** A parsed, validated private key; never leaves the client unwrapped. */
export interface PrivateKey {
  /** PKCS#8 DER bytes. */
  readonly pkcs8: Uint8Array;
  readonly keyObject: KeyObject;
}

declare const checkedPair: unique symbol;

/**
 * A user's RSA key pair whose halves are known to match: only generateKeyPair, keyPairFromPrivate
 * and assertKeyPairMatches make one, so a public key served by the relay can never stand in for the
 * user's own (sealing would otherwise encrypt `keyFrom` to whoever supplied it).
 */
export interface KeyPair {
  readonly publicKey: PublicKey;
  readonly privateKey: PrivateKey;
  readonly [checkedPair]: true;
}

/** Size of an RSA-2048 SubjectPublicKeyInfo in DER, the only public key size of protocol v1. */
export const SPKI_BYTES = 294;

/** Longest public key text looked at before refusing it unread (OVERSIZE). */
export const MAX_PUBLIC_KEY_CHARS = 1024;

/**
 * A public key's wire text: canonical base64 of at most MAX_PUBLIC_KEY_CHARS characters. Its length
 * and content are importPublicKey's to judge, so that a key of the wrong size (RSA-3072, an EC key,
 * a key plus a trailing byte) is INVALID_KEY, as docs/protocol.md section 3 says, not a shape error.
 */
export const publicKeySchema = base64Bytes(0, (MAX_PUBLIC_KEY_CHARS / 4) * 3);

function checked(publicKey: PublicKey, privateKey: PrivateKey): KeyPair {
  return { publicKey, privateKey } as KeyPair;
}

function assertRsa2048(key: KeyObject, what: string): void {
  const details = key.asymmetricKeyDetails;
  if (
    key.asymmetricKeyType !== 'rsa' ||
    details?.modulusLength !== RSA_MODULUS_BITS ||
    details.publicExponent !== BigInt(RSA_PUBLIC_EXPONENT)
  ) {
    throw new InvalidKeyError(`The ${what} is not an RSA-2048 key with exponent 65537.`);
  }
}

function publicKeyFromObject(keyObject: KeyObject): PublicKey {
  const spki = asBytes(keyObject.export({ type: 'spki', format: 'der' }));
  return { spki, encoded: bytesToBase64(spki), fingerprint: bytesToHex(sha256(spki)), keyObject };
}

/** Generates a fresh RSA-2048 key pair off the main thread, so a spinner can keep turning. */
export async function generateKeyPair(): Promise<KeyPair> {
  const { publicKey, privateKey } = await generateRsa('rsa', {
    modulusLength: RSA_MODULUS_BITS,
    publicExponent: RSA_PUBLIC_EXPONENT,
  });
  return checked(publicKeyFromObject(publicKey), {
    pkcs8: asBytes(privateKey.export({ type: 'pkcs8', format: 'der' })),
    keyObject: privateKey,
  });
}

/** Parses SPKI DER bytes; refuses anything but canonical DER of an RSA-2048, e = 65537 key. */
export function importPublicKeyBytes(spki: Uint8Array): PublicKey {
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: asBuffer(spki), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new InvalidKeyError('The public key is not a valid SPKI DER key.', { cause });
  }
  assertRsa2048(keyObject, 'public key');
  const parsed = publicKeyFromObject(keyObject);
  if (bytesToHex(parsed.spki) !== bytesToHex(spki)) {
    throw new InvalidKeyError('The public key is not in canonical DER form.');
  }
  return parsed;
}

/** Parses a public key from its wire form (base64 SPKI DER), whatever the input's type. */
export function importPublicKey(encoded: unknown): PublicKey {
  if (typeof encoded !== 'string') throw new MalformedInputError('The public key must be text.');
  if (encoded.length > MAX_PUBLIC_KEY_CHARS) throw new OversizeError('The public key is too long.');
  const spki = base64ToBytes(encoded, 'public key');
  if (spki.length !== SPKI_BYTES) {
    throw new InvalidKeyError('The public key is not an RSA-2048 key (wrong length).');
  }
  return importPublicKeyBytes(spki);
}

/** Parses PKCS#8 DER bytes; refuses anything but an RSA-2048, e = 65537 private key. */
export function importPrivateKey(pkcs8: Uint8Array): PrivateKey {
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: asBuffer(pkcs8), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new InvalidKeyError('The private key is not a valid PKCS#8 DER key.', { cause });
  }
  assertRsa2048(keyObject, 'private key');
  return { pkcs8: Uint8Array.from(pkcs8), keyObject };
}

/** The public half of a private key, derived rather than trusted. */
export function publicKeyOf(privateKey: PrivateKey): PublicKey {
  return publicKeyFromObject(createPublicKey(privateKey.keyObject));
}

/** Refuses a private key that does not belong to the given public key (e.g. a key served for someone else). */
export function assertKeyPairMatches(privateKey: PrivateKey, publicKey: PublicKey): KeyPair {
  if (publicKeyOf(privateKey).fingerprint !== publicKey.fingerprint) {
    throw new KeyMismatchError(
      'The private key does not match the public key on record; refusing to use it.',
    );
  }
  return checked(publicKey, privateKey);
}

/** The key pair of a private key, with the public half derived rather than trusted. */
export function keyPairFromPrivate(privateKey: PrivateKey): KeyPair {
  return checked(publicKeyOf(privateKey), privateKey);
}
