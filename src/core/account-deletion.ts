import { z } from 'zod';
import { authNonceSchema } from './auth.js';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, bytesToBase64, hexToBytes } from './encoding.js';
import { DeletionSignatureInvalidError } from './errors.js';
import { LABELS } from './labels.js';
import { publicKeySchema, type KeyPair, type PublicKey } from './keys.js';
import { KDF_SUBKEY_BYTES } from './password-keys.js';
import { RSA_BYTES, pssSign, pssVerify } from './rsa.js';
import { base64Bytes, identifierSchema, parseWire, timestampSchema } from './schemas.js';

/**
 * An account deletion statement (docs/protocol.md 5c): the account key asks the relay to delete
 * the account, over a nonce the relay handed to this very connection, so it is good once. It proves
 * the request, never that the relay carried it out.
 */
export const deletionStatementSchema = z.strictObject({
  /** The `challenge` nonce of the connection that sends the request. */
  nonce: authNonceSchema,
  /** The owner's clock, milliseconds since the epoch. */
  time: timestampSchema,
  signature: base64Bytes(RSA_BYTES),
});

/** A signed account deletion statement, as sent and as the relay keeps it in the tombstone. */
export type DeletionStatement = z.infer<typeof deletionStatementSchema>;

/**
 * `delete-account`: authorised like `change-password` (the connection authenticated as the
 * identifier, the current login proof) and by the deletion statement over this connection's nonce.
 */
export const deleteAccountRequestSchema = z.strictObject({
  identifier: identifierSchema,
  loginProof: base64Bytes(KDF_SUBKEY_BYTES),
  statement: deletionStatementSchema,
});

/** A `delete-account` request. */
export type DeleteAccountRequest = z.infer<typeof deleteAccountRequestSchema>;

/**
 * The answer to `deletion` (docs/protocol.md 5c): what the relay keeps of a deleted account, so a
 * contact can check the deletion under the key it pinned instead of taking the relay's word.
 */
export const deletionResultSchema = z.strictObject({
  /** The key the account had when it was deleted (the one the statement names). */
  publicKey: publicKeySchema,
  /** The day of the deletion on the relay's clock: 00:00 UTC of that day (the exact time is not served). */
  deletedAt: timestampSchema,
  statement: deletionStatementSchema,
});

/** A `deletion` answer. */
export type DeletionResult = z.infer<typeof deletionResultSchema>;

/** The signed bytes of a deletion statement: identifier, nonce, time and the key being deleted. */
export function deletionSigningBytes(
  identifier: string,
  nonce: string,
  time: number,
  key: PublicKey,
): Uint8Array {
  return framedBytes(LABELS.deleteAccount, [
    hexToBytes(parseWire(identifierSchema, identifier, 'identifier'), 'identifier'),
    base64ToBytes(parseWire(authNonceSchema, nonce, 'nonce'), 'nonce'),
    uint64Bytes(time),
    hexToBytes(key.fingerprint, 'fingerprint'),
  ]);
}

/** Signs the deletion of an identifier's account with its key pair, over the relay's nonce. */
export function signAccountDeletion(
  identifier: string,
  nonce: string,
  time: number,
  keyPair: KeyPair,
): DeletionStatement {
  const bytes = deletionSigningBytes(identifier, nonce, time, keyPair.publicKey);
  return { nonce, time, signature: bytesToBase64(pssSign(keyPair.privateKey.keyObject, bytes)) };
}

/** Accepts a deletion statement only if this key signed it for this identifier and its nonce. */
export function verifyAccountDeletion(
  publicKey: PublicKey,
  identifier: string,
  input: unknown,
): DeletionStatement {
  const statement = parseWire(deletionStatementSchema, input, 'deletion statement');
  const bytes = deletionSigningBytes(identifier, statement.nonce, statement.time, publicKey);
  if (!pssVerify(publicKey.keyObject, bytes, base64ToBytes(statement.signature, 'signature'))) {
    throw new DeletionSignatureInvalidError(
      'The account deletion statement is not signed by this account’s key for this account and this connection’s challenge: nothing was deleted.',
    );
  }
  return statement;
}
