import { z } from 'zod';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, bytesToBase64, bytesToHex, hexToBytes, utf8ToBytes } from './encoding.js';
import { CredentialsSignatureInvalidError } from './errors.js';
import { LABELS } from './labels.js';
import type { PrivateKey, PublicKey } from './keys.js';
import {
  KDF_SUBKEY_BYTES,
  hashLoginProof,
  kdfParamsSchema,
  type KdfParams,
} from './password-keys.js';
import { replacedKeysSchema } from './key-rotation.js';
import { wrappedPrivateKeySchema, type WrappedPrivateKey } from './private-key-wrap.js';
import { RSA_BYTES, pssSign, pssVerify } from './rsa.js';
import { base64Bytes, identifierSchema, parseWire } from './schemas.js';

/** Hex SHA-256 of a login proof, as the relay stores it. */
const proofHashSchema = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * A user's credentials statement: the KDF parameters, wrap and login proof hash in force, signed by
 * the account key. `generation` grows with each change, so a relay serving an older one is caught.
 */
export const credentialsStatementSchema = z.strictObject({
  generation: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** Hash of the login proof this change replaced (ties the statement to the state it left). */
  previousProofHash: proofHashSchema,
  signature: base64Bytes(RSA_BYTES),
});

/** A signed credentials statement, as stored by the relay and served at login. */
export type CredentialsStatement = z.infer<typeof credentialsStatementSchema>;

/** `change-password`: new credentials, authorised by the session's key and the current proof. */
export const changePasswordRequestSchema = z.strictObject({
  identifier: identifierSchema,
  kdf: kdfParamsSchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  loginProof: base64Bytes(KDF_SUBKEY_BYTES),
  oldLoginProof: base64Bytes(KDF_SUBKEY_BYTES),
  statement: credentialsStatementSchema,
  /** The account's replaced keys (section 5b), wrapped again under the new password: every one kept. */
  replacedKeys: replacedKeysSchema.optional(),
});

/** A `change-password` request. */
export type ChangePasswordRequest = z.infer<typeof changePasswordRequestSchema>;

/** What a credentials statement covers. */
export interface CredentialsFields {
  readonly identifier: string;
  readonly generation: number;
  readonly kdf: KdfParams;
  readonly wrappedPrivateKey: WrappedPrivateKey;
  /** Hex SHA-256 of the new login proof. */
  readonly loginProofHash: string;
  readonly previousProofHash: string;
}

/** The signed bytes of a credentials statement, under their own label. */
export function credentialsSigningBytes(fields: CredentialsFields): Uint8Array {
  const kdf = parseWire(kdfParamsSchema, fields.kdf, 'KDF parameters');
  const wrap = parseWire(wrappedPrivateKeySchema, fields.wrappedPrivateKey, 'wrapped private key');
  return framedBytes(LABELS.credentials, [
    hexToBytes(parseWire(identifierSchema, fields.identifier, 'identifier'), 'identifier'),
    uint64Bytes(fields.generation),
    utf8ToBytes(kdf.algorithm),
    uint64Bytes(kdf.iterations),
    base64ToBytes(kdf.salt, 'salt'),
    base64ToBytes(wrap.iv, 'iv'),
    base64ToBytes(wrap.ct, 'ct'),
    hexToBytes(parseWire(proofHashSchema, fields.loginProofHash, 'proof hash'), 'proof hash'),
    hexToBytes(parseWire(proofHashSchema, fields.previousProofHash, 'proof hash'), 'proof hash'),
  ]);
}

/** Signs new credentials with the account key (RSA-PSS-SHA256). */
export function signCredentials(privateKey: PrivateKey, fields: CredentialsFields): string {
  return bytesToBase64(pssSign(privateKey.keyObject, credentialsSigningBytes(fields)));
}

/** Accepts a credentials statement only if the account key signed exactly these fields. */
export function verifyCredentials(
  publicKey: PublicKey,
  fields: CredentialsFields,
  signature: string,
): void {
  const bytes = base64ToBytes(parseWire(base64Bytes(RSA_BYTES), signature, 'signature'));
  if (!pssVerify(publicKey.keyObject, credentialsSigningBytes(fields), bytes)) {
    throw new CredentialsSignatureInvalidError(
      'The relay served password settings that your key did not sign: it altered or invented them. Nothing was saved.',
    );
  }
}

/** Hex SHA-256 of a base64 login proof. */
export function loginProofHashHex(loginProof: string): string {
  return bytesToHex(hashLoginProof(base64ToBytes(loginProof)));
}
