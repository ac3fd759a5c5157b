import { z } from 'zod';
import { framedBytes, uint64Bytes } from './canonical-bytes.js';
import { base64ToBytes, bytesToBase64, hexToBytes } from './encoding.js';
import {
  RotationChainBrokenError,
  RotationIdentifierMismatchError,
  RotationNewSignatureInvalidError,
  RotationOldSignatureInvalidError,
  RotationRolledBackError,
} from './errors.js';
import { LABELS } from './labels.js';
import { importPublicKey, publicKeySchema, type KeyPair, type PublicKey } from './keys.js';
import { wrappedPrivateKeySchema } from './private-key-wrap.js';
import { RSA_BYTES, pssSign, pssVerify } from './rsa.js';
import { base64Bytes, identifierSchema, parseWire, timestampSchema } from './schemas.js';

/**
 * How many rotation statements a key lookup serves (the newest), and how many replaced private keys
 * the relay keeps wrapped for their owner: a peer that missed more rotations than this sees a plain
 * key change, and messages sealed to an older key can no longer be opened.
 */
export const MAX_KEPT_ROTATIONS = 8;

/** A key rotation statement: the owner's old key hands its identifier over to a new key. */
export const keyRotationSchema = z.strictObject({
  identifier: identifierSchema,
  /** 1 for an identifier's first rotation, then one more each time. */
  counter: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  /** The owner's clock at the rotation, milliseconds since the epoch. */
  time: timestampSchema,
  oldKey: publicKeySchema,
  newKey: publicKeySchema,
  oldSignature: base64Bytes(RSA_BYTES),
  newSignature: base64Bytes(RSA_BYTES),
});

/** A signed key rotation statement (docs/protocol.md 5b). */
export type KeyRotation = z.infer<typeof keyRotationSchema>;

/** The chain of statements a key lookup serves, oldest first. */
export const rotationChainSchema = z.array(keyRotationSchema).max(MAX_KEPT_ROTATIONS);

/** A replaced key pair as the relay keeps it for its owner: wrapped like the current one. */
export const replacedKeySchema = z.strictObject({
  publicKey: publicKeySchema,
  wrappedPrivateKey: wrappedPrivateKeySchema,
  /** The `time` of the rotation that replaced it. */
  replacedAt: timestampSchema,
});

/** One replaced key pair of a user, wrapped. */
export type ReplacedKey = z.infer<typeof replacedKeySchema>;

/** The replaced keys of a user, newest first. */
export const replacedKeysSchema = z.array(replacedKeySchema).max(MAX_KEPT_ROTATIONS);

/** What a rotation statement covers. */
export interface RotationFields {
  readonly identifier: string;
  readonly counter: number;
  readonly time: number;
  readonly oldKey: PublicKey;
  readonly newKey: PublicKey;
}

/** The signed bytes of a rotation statement under one of its two labels. */
export function rotationSigningBytes(
  label: typeof LABELS.keyRotationOld | typeof LABELS.keyRotationNew,
  fields: RotationFields,
): Uint8Array {
  return framedBytes(label, [
    hexToBytes(parseWire(identifierSchema, fields.identifier, 'identifier'), 'identifier'),
    uint64Bytes(fields.counter),
    uint64Bytes(fields.time),
    hexToBytes(fields.oldKey.fingerprint, 'fingerprint'),
    fields.newKey.spki,
  ]);
}

/** Signs a rotation with the old key pair and the new one (each under its own label). */
export function signKeyRotation(
  identifier: string,
  counter: number,
  time: number,
  oldPair: KeyPair,
  newPair: KeyPair,
): KeyRotation {
  const fields = {
    identifier,
    counter,
    time,
    oldKey: oldPair.publicKey,
    newKey: newPair.publicKey,
  };
  return {
    identifier,
    counter,
    time,
    oldKey: oldPair.publicKey.encoded,
    newKey: newPair.publicKey.encoded,
    oldSignature: bytesToBase64(
      pssSign(oldPair.privateKey.keyObject, rotationSigningBytes(LABELS.keyRotationOld, fields)),
    ),
    newSignature: bytesToBase64(
      pssSign(newPair.privateKey.keyObject, rotationSigningBytes(LABELS.keyRotationNew, fields)),
    ),
  };
}

/**
 * Checks one statement for an identifier: made for it, signed by the key it replaces and by the
 * key it introduces. Returns the two keys, parsed.
 */
export function verifyKeyRotation(
  input: unknown,
  identifier: string,
): { statement: KeyRotation; oldKey: PublicKey; newKey: PublicKey } {
  const statement = parseWire(keyRotationSchema, input, 'key rotation statement');
  if (statement.identifier !== identifier) {
    throw new RotationIdentifierMismatchError(
      'The key rotation statement was made for another account than the one it came with: it does not count.',
    );
  }
  const oldKey = importPublicKey(statement.oldKey);
  const newKey = importPublicKey(statement.newKey);
  if (oldKey.fingerprint === newKey.fingerprint) {
    throw new RotationChainBrokenError('A key rotation statement must introduce a different key.');
  }
  const fields = { identifier, counter: statement.counter, time: statement.time, oldKey, newKey };
  const signed = (key: PublicKey, label: Parameters<typeof rotationSigningBytes>[0], sig: string) =>
    pssVerify(key.keyObject, rotationSigningBytes(label, fields), base64ToBytes(sig, 'signature'));
  if (!signed(oldKey, LABELS.keyRotationOld, statement.oldSignature)) {
    throw new RotationOldSignatureInvalidError(
      'The key rotation statement is not signed by the key it claims to replace: it is forged.',
    );
  }
  if (!signed(newKey, LABELS.keyRotationNew, statement.newSignature)) {
    throw new RotationNewSignatureInvalidError(
      'The key rotation statement is not signed by the new key it introduces: it is forged.',
    );
  }
  return { statement, oldKey, newKey };
}

/** The statements that lead from a pinned key to the key served now, each checked. */
export interface FollowedRotations {
  readonly key: PublicKey;
  readonly steps: readonly KeyRotation[];
}

/**
 * Follows a served chain from the key this reader pinned to the key served now: the statement that
 * replaced the pinned key, then every later one, each linked to the one before (its old key the
 * previous new key, its counter the next), the last one's new key the served key. `replaced` are
 * fingerprints of keys this reader already saw replaced, and `seenCounter` the last counter it
 * accepted: serving one of those keys again, or a chain that ends earlier, is a rollback.
 */
export function followRotations(
  identifier: string,
  pinned: PublicKey,
  served: PublicKey,
  chain: readonly unknown[],
  replaced: readonly string[] = [],
  seenCounter = 0,
): FollowedRotations {
  if (replaced.includes(served.fingerprint)) {
    throw new RotationRolledBackError(
      'The relay serves a key this peer already replaced: it is rolling the key back.',
    );
  }
  const statements = parseWire(rotationChainSchema, chain, 'key rotation chain');
  const start = statements.findIndex((statement) => statement.oldKey === pinned.encoded);
  if (start < 0) {
    throw new RotationChainBrokenError(
      'No key rotation statement signed by the key pinned here leads to the key the relay serves.',
    );
  }
  let current = pinned;
  let counter = statements[start]?.counter ?? 0;
  const steps: KeyRotation[] = [];
  for (const input of statements.slice(start)) {
    const { statement, oldKey, newKey } = verifyKeyRotation(input, identifier);
    if (oldKey.fingerprint !== current.fingerprint || statement.counter !== counter) {
      throw new RotationChainBrokenError(
        'The key rotation statements do not follow one another: one is missing or out of order.',
      );
    }
    steps.push(statement);
    current = newKey;
    counter++;
  }
  if (current.fingerprint !== served.fingerprint) {
    throw new RotationChainBrokenError(
      'The key rotation statements end at another key than the one the relay serves.',
    );
  }
  if (counter - 1 < seenCounter) {
    throw new RotationRolledBackError(
      'The relay serves an older key rotation than one already accepted here.',
    );
  }
  return { key: current, steps };
}

/** The SHA-256 fingerprint of a base64 SPKI, for the profile's list of replaced keys. */
export function fingerprintOf(encoded: string): string {
  return importPublicKey(encoded).fingerprint;
}
