import { z } from 'zod';
import { keyRotationSchema } from './key-rotation.js';
import { publicKeySchema } from './keys.js';
import { credentialsStatementSchema } from './password-change.js';
import { KDF_SUBKEY_BYTES } from './password-keys.js';
import { wrappedPrivateKeySchema } from './private-key-wrap.js';
import { base64Bytes, identifierSchema } from './schemas.js';

/**
 * `rotate-key`: a new key pair replaces the account's, authorised like `change-password` (the
 * session's key, the current login proof) and by the rotation statement both keys signed. The new
 * private key is wrapped under the same password-derived key, so the KDF and the proof stay.
 */
export const rotateKeyRequestSchema = z.strictObject({
  identifier: identifierSchema,
  oldLoginProof: base64Bytes(KDF_SUBKEY_BYTES),
  publicKey: publicKeySchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  rotation: keyRotationSchema,
  /** The credentials statement over the new wrap, signed by the new key. */
  credentials: credentialsStatementSchema,
});

/** A `rotate-key` request. */
export type RotateKeyRequest = z.infer<typeof rotateKeyRequestSchema>;
