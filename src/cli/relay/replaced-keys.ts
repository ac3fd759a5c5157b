import {
  assertKeyPairMatches,
  importPublicKey,
  unwrapPrivateKey,
  wrapPrivateKey,
  WrongPasswordError,
  type KeyPair,
  type ReplacedKey,
} from '../../core/index.js';
import { WrappedKeyRejectedError } from '../cli-errors.js';

/** A replaced key pair of this account, unlocked, with the wrapped form the relay and profile keep. */
export interface UnlockedReplacedKey {
  readonly keyPair: KeyPair;
  readonly replacedAt: number;
  readonly wrapped: ReplacedKey;
}

/**
 * Unwraps the account's replaced key pairs with the password-derived key: each must open and
 * match its public key, or the relay (or the profile) holds something the account never wrapped.
 */
export function unwrapReplacedKeys(
  wrapped: readonly ReplacedKey[] | undefined,
  keyEncryptionKey: Uint8Array,
  identifier: string,
): UnlockedReplacedKey[] {
  return (wrapped ?? []).map((entry) => {
    try {
      const privateKey = unwrapPrivateKey(entry.wrappedPrivateKey, keyEncryptionKey, identifier);
      const keyPair = assertKeyPairMatches(privateKey, importPublicKey(entry.publicKey));
      return { keyPair, replacedAt: entry.replacedAt, wrapped: entry };
    } catch (error) {
      if (!(error instanceof WrongPasswordError)) throw error;
      throw new WrappedKeyRejectedError(
        'A replaced key of this account does not decrypt with this password: the relay or the profile holds a wrap the account never made. Nothing was saved.',
        { cause: error },
      );
    }
  });
}

/** Wraps the replaced key pairs again under a new password-derived key (for `passwd`). */
export function rewrapReplacedKeys(
  keys: readonly UnlockedReplacedKey[],
  keyEncryptionKey: Uint8Array,
  identifier: string,
): ReplacedKey[] {
  return keys.map((key) => ({
    publicKey: key.keyPair.publicKey.encoded,
    wrappedPrivateKey: wrapPrivateKey(key.keyPair.privateKey, keyEncryptionKey, identifier),
    replacedAt: key.replacedAt,
  }));
}
