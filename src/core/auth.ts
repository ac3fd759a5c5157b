import { framedBytes } from './canonical-bytes.js';
import { base64ToBytes, bytesToBase64, hexToBytes } from './encoding.js';
import { AuthProofInvalidError } from './errors.js';
import { LABELS } from './labels.js';
import type { PrivateKey, PublicKey } from './keys.js';
import { systemRandom, type RandomSource } from './random.js';
import { RSA_BYTES, pssSign, pssVerify } from './rsa.js';
import { base64Bytes, identifierSchema, parseWire } from './schemas.js';

/** Bytes of a server's authentication nonce. */
export const AUTH_NONCE_BYTES = 32;

/** A server nonce on the wire. */
export const authNonceSchema = base64Bytes(AUTH_NONCE_BYTES);
/** An authentication proof (an RSA-PSS signature) on the wire. */
export const authProofSchema = base64Bytes(RSA_BYTES);

/** A fresh nonce the server hands to a socket before it may authenticate. */
export function newAuthNonce(random: RandomSource = systemRandom): string {
  return bytesToBase64(random(AUTH_NONCE_BYTES));
}

/** The bytes a client signs to authenticate; their own label keeps them apart from packets. */
export function authSigningBytes(nonce: string, identifier: string): Uint8Array {
  return framedBytes(LABELS.auth, [
    base64ToBytes(parseWire(authNonceSchema, nonce, 'nonce'), 'nonce'),
    hexToBytes(parseWire(identifierSchema, identifier, 'identifier'), 'identifier'),
  ]);
}

/** Proves possession of the private key for this identifier, for this one socket's nonce. */
export function createAuthProof(privateKey: PrivateKey, identifier: string, nonce: string): string {
  return bytesToBase64(pssSign(privateKey.keyObject, authSigningBytes(nonce, identifier)));
}

/** Accepts a proof only if it signs this nonce and identifier under the registered key. */
export function verifyAuthProof(
  publicKey: PublicKey,
  identifier: string,
  nonce: string,
  proof: unknown,
): void {
  const signature = base64ToBytes(parseWire(authProofSchema, proof, 'auth proof'), 'auth proof');
  if (!pssVerify(publicKey.keyObject, authSigningBytes(nonce, identifier), signature)) {
    throw new AuthProofInvalidError(
      'Authentication failed: the proof does not match this identifier’s registered key.',
    );
  }
}
