import {
  bytesToBase64,
  derivePasswordKeys,
  generateKeyPair,
  loginProofHashHex,
  MAX_KEPT_ROTATIONS,
  signCredentials,
  signKeyRotation,
  wrapPrivateKey,
  type KeyPair,
  type RotateKeyRequest,
  type WrappedPrivateKey,
} from '../../core/index.js';
import type { Account } from './account.js';
import type { UnlockedReplacedKey } from './replaced-keys.js';

/** What `rotate-key` sends, and what this device keeps once the relay took it. */
export interface PreparedRotation {
  readonly request: RotateKeyRequest;
  readonly keyPair: KeyPair;
  readonly wrappedPrivateKey: WrappedPrivateKey;
  readonly generation: number;
  /** The replaced key pairs after this rotation, newest (the one just replaced) first. */
  readonly replacedKeys: readonly UnlockedReplacedKey[];
}

/**
 * Builds a `rotate-key` request: a fresh RSA-2048 pair, its private key wrapped under the same
 * password-derived key as the current one (the KDF and the login proof stay), the rotation
 * statement signed by the old and the new key, and a credentials statement over the new wrap signed
 * by the new key. `lastCounter` is the counter of the account's last rotation (0: none yet).
 */
export async function prepareKeyRotation(
  account: Account,
  password: string,
  lastCounter: number,
  seenGeneration: number,
  now = Date.now(),
  newPair?: KeyPair,
): Promise<PreparedRotation> {
  const { identifier } = account;
  const keys = await derivePasswordKeys(password, identifier, account.kdf);
  const keyPair = newPair ?? (await generateKeyPair());
  const wrappedPrivateKey = wrapPrivateKey(keyPair.privateKey, keys.keyEncryptionKey, identifier);
  const rotation = signKeyRotation(identifier, lastCounter + 1, now, account.keyPair, keyPair);
  const oldLoginProof = bytesToBase64(keys.loginProof);
  const proofHash = loginProofHashHex(oldLoginProof);
  const generation = Math.max(now, seenGeneration + 1);
  const signature = signCredentials(keyPair.privateKey, {
    identifier,
    generation,
    kdf: account.kdf,
    wrappedPrivateKey,
    loginProofHash: proofHash,
    previousProofHash: proofHash,
  });
  const replaced: UnlockedReplacedKey = {
    keyPair: account.keyPair,
    replacedAt: now,
    wrapped: {
      publicKey: account.keyPair.publicKey.encoded,
      wrappedPrivateKey: account.wrappedPrivateKey,
      replacedAt: now,
    },
  };
  return {
    request: {
      identifier,
      oldLoginProof,
      publicKey: keyPair.publicKey.encoded,
      wrappedPrivateKey,
      rotation,
      credentials: { generation, previousProofHash: proofHash, signature },
    },
    keyPair,
    wrappedPrivateKey,
    generation,
    replacedKeys: [replaced, ...(account.replacedKeys ?? [])].slice(0, MAX_KEPT_ROTATIONS),
  };
}
