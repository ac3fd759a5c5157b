import { describe, expect, it } from '@jest/globals';
import { constants, verify } from 'node:crypto';
import {
  authSigningBytes,
  base64ToBytes,
  credentialsSigningBytes,
  CredentialsSignatureInvalidError,
  deletionSigningBytes,
  DeletionSignatureInvalidError,
  signAccountDeletion,
  verifyAccountDeletion,
  derivePasswordKeys,
  loginProofHashHex,
  verifyCredentials,
  type KdfParams,
  type WrappedPrivateKey,
  bytesToBase64,
  bytesToHex,
  derivePasswordMaster,
  encodeBody,
  hashLoginProof,
  hexToBytes,
  identifierFromUsername,
  importPrivateKey,
  importPublicKey,
  InvalidUsernameError,
  keyPairFromPrivate,
  LABELS,
  RotationOldSignatureInvalidError,
  rotationSigningBytes,
  signKeyRotation,
  verifyKeyRotation,
  normalizeUsername,
  openPacket,
  packetHeaderAad,
  packetSigningBytes,
  signingBytesOfParsed,
  parsePacket,
  safetyNumber,
  sealPacket,
  splitPasswordMaster,
  unwrapPrivateKey,
  verifyAuthProof,
  wrapPrivateKey,
  type Body,
  type Packet,
  type RandomSource,
} from '../../src/core/index.js';
import { computeVectors, readInputs } from '../../scripts/generate-vectors.js';
import { alice, bob } from '../support/parties.js';
import { readVector, type KeysVector } from '../support/vectors.js';

interface DeletionVector {
  identifier: string;
  fingerprint: string;
  signingBytes: string;
  statement: { nonce: string; time: number; signature: string };
}
interface IdentityVector {
  valid: { input: string; normalized: string; identifier: string }[];
  invalid: { input: string; error: string }[];
}
interface PasswordVector {
  password: string;
  identifier: string;
  kdf: unknown;
  pbkdf2Output: string;
  keyEncryptionKey: string;
  loginProof: string;
  loginProofHash: string;
  wrapIv: string;
  wrappedPrivateKey: { iv: string; ct: string };
}
interface SealedVector {
  inputs: { id: string; time: number; messageKey: string; iv: string; body: Body };
  bodyBytes: string;
  aad: string;
  ciphertext: string;
  signingBytes: string;
  packet: Packet;
}
interface AuthVector {
  identifier: string;
  nonce: string;
  signingBytes: string;
  proof: string;
}

interface CredentialsVector {
  password: string;
  identifier: string;
  generation: number;
  kdf: KdfParams;
  wrappedPrivateKey: WrappedPrivateKey;
  loginProof: string;
  loginProofHash: string;
  previousProofHash: string;
  signingBytes: string;
  signature: string;
}

const keys = readVector('keys') as KeysVector;
/** The sealed packet vectors, one per body type (docs/protocol.md 8). */
const PACKET_KINDS = ['text', 'hello', 'edit', 'delete', 'reply'] as const;
const sealed = readVector('packet') as Record<(typeof PACKET_KINDS)[number], SealedVector>;

/** Hands out the vector's fixed randomness by requested length: id 16, key 32, IV 12. */
function fixedRandom(inputs: SealedVector['inputs']): RandomSource {
  const byLength = new Map([
    [16, hexToBytes(inputs.id)],
    [32, hexToBytes(inputs.messageKey)],
    [12, hexToBytes(inputs.iv)],
  ]);
  return (length) => {
    const value = byLength.get(length);
    if (!value) throw new Error(`unexpected random(${length})`);
    return value;
  };
}

interface RotationVector {
  identifier: string;
  newPrivateKey: string;
  oldFingerprint: string;
  newFingerprint: string;
  oldSigningBytes: string;
  newSigningBytes: string;
  statement: {
    identifier: string;
    counter: number;
    time: number;
    oldKey: string;
    newKey: string;
    oldSignature: string;
    newSignature: string;
  };
}

describe('test vectors', () => {
  it('are what the independent generator produces from the committed inputs', () => {
    const fresh = computeVectors(readInputs()) as {
      packet: Record<(typeof PACKET_KINDS)[number], SealedVector>;
      auth: AuthVector;
    } & Record<string, unknown>;
    for (const name of ['identity', 'keys', 'password'] as const) {
      expect(readVector(name)).toEqual(fresh[name]);
    }
    for (const kind of PACKET_KINDS) {
      const { bodyBytes, aad, ciphertext } = sealed[kind];
      expect({ bodyBytes, aad, ciphertext }).toEqual({
        bodyBytes: fresh.packet[kind].bodyBytes,
        aad: fresh.packet[kind].aad,
        ciphertext: fresh.packet[kind].ciphertext,
      });
    }
    expect((readVector('auth') as AuthVector).signingBytes).toBe(fresh.auth.signingBytes);
    const { signature: _s, ...credentials } = readVector('credentials') as CredentialsVector;
    const { signature: _f, ...freshCredentials } = fresh['credentials'] as CredentialsVector;
    expect(credentials).toEqual(freshCredentials);
    const { statement, ...rotation } = readVector('rotation') as RotationVector;
    const { statement: freshStatement, ...freshRotation } = fresh['rotation'] as RotationVector;
    expect(rotation).toEqual(freshRotation);
    const { oldSignature: _o, newSignature: _n, ...signed } = statement;
    const { oldSignature: _fo, newSignature: _fn, ...freshSigned } = freshStatement;
    expect(signed).toEqual(freshSigned);
    const { statement: deletion, ...deleting } = readVector('deletion') as DeletionVector;
    const { statement: freshDeletion, ...freshDeleting } = fresh['deletion'] as DeletionVector;
    expect(deleting).toEqual(freshDeleting);
    expect({ ...deletion, signature: '' }).toEqual({ ...freshDeletion, signature: '' });
  });

  it('identity: normalization and identifiers', () => {
    const vector = readVector('identity') as IdentityVector;
    for (const { input, normalized, identifier } of vector.valid) {
      expect(normalizeUsername(input)).toBe(normalized);
      expect(identifierFromUsername(input)).toBe(identifier);
    }
    for (const { input } of vector.invalid) {
      expect(() => normalizeUsername(input)).toThrow(InvalidUsernameError);
    }
  });

  it('keys: public key derivation, fingerprints and the safety number', () => {
    for (const entry of [keys.alice, keys.bob]) {
      const privateKey = importPrivateKey(base64ToBytes(entry.privateKey));
      expect(privateKey.pkcs8).toEqual(base64ToBytes(entry.privateKey));
      const publicKey = importPublicKey(entry.publicKey);
      expect(publicKey.fingerprint).toBe(entry.fingerprint);
      expect(identifierFromUsername(entry.username)).toBe(entry.identifier);
    }
    expect(
      safetyNumber(
        { identifier: keys.alice.identifier, publicKey: importPublicKey(keys.alice.publicKey) },
        { identifier: keys.bob.identifier, publicKey: importPublicKey(keys.bob.publicKey) },
      ),
    ).toBe(keys.safetyNumber);
  });

  it('password: PBKDF2, HKDF split, proof hash and the wrapped private key', async () => {
    const vector = readVector('password') as PasswordVector;
    const master = await derivePasswordMaster(vector.password, vector.identifier, vector.kdf);
    expect(bytesToHex(master)).toBe(vector.pbkdf2Output);
    const split = await splitPasswordMaster(master);
    expect(bytesToHex(split.keyEncryptionKey)).toBe(vector.keyEncryptionKey);
    expect(bytesToHex(split.loginProof)).toBe(vector.loginProof);
    expect(bytesToHex(hashLoginProof(split.loginProof))).toBe(vector.loginProofHash);

    const wrapped = wrapPrivateKey(
      alice.keyPair.privateKey,
      split.keyEncryptionKey,
      vector.identifier,
      () => base64ToBytes(vector.wrapIv),
    );
    expect(wrapped).toEqual(vector.wrappedPrivateKey);
    const unwrapped = unwrapPrivateKey(
      vector.wrappedPrivateKey,
      split.keyEncryptionKey,
      vector.identifier,
    );
    expect(bytesToBase64(unwrapped.pkcs8)).toBe(keys.alice.privateKey);
  });

  it.each(PACKET_KINDS)('packet (%s): every deterministic byte, then open', (kind) => {
    const vector = sealed[kind];
    const packet = parsePacket(vector.packet);
    expect(bytesToHex(encodeBody(vector.inputs.body))).toBe(vector.bodyBytes);
    expect(bytesToHex(packetHeaderAad(packet))).toBe(vector.aad);
    expect(bytesToHex(packetSigningBytes(packet))).toBe(vector.signingBytes);
    expect(bytesToHex(signingBytesOfParsed(packet))).toBe(vector.signingBytes);

    const resealed = sealPacket(
      {
        sender: { identifier: alice.identifier, keyPair: alice.keyPair },
        recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
        body: vector.inputs.body,
      },
      { random: fixedRandom(vector.inputs), now: () => vector.inputs.time },
    );
    const { keyTo: _k1, keyFrom: _k2, sig: _s, ...deterministic } = resealed;
    const { keyTo: _k3, keyFrom: _k4, sig: _s2, ...expected } = vector.packet;
    expect(deterministic).toEqual(expected);
    expect(resealed.ct).toBe(vector.ciphertext);

    for (const [reader, direction] of [
      [bob, 'incoming'],
      [alice, 'outgoing'],
    ] as const) {
      const opened = openPacket({
        packet: vector.packet,
        reader: { identifier: reader.identifier, privateKey: reader.keyPair.privateKey },
        sender: {
          identifier: keys.alice.identifier,
          publicKey: importPublicKey(keys.alice.publicKey),
        },
      });
      expect(opened.body).toEqual(vector.inputs.body);
      expect(opened.direction).toBe(direction);
    }
  });

  it('auth: signing bytes and the proof', () => {
    const vector = readVector('auth') as AuthVector;
    expect(bytesToHex(authSigningBytes(vector.nonce, vector.identifier))).toBe(vector.signingBytes);
    expect(() =>
      verifyAuthProof(
        importPublicKey(keys.alice.publicKey),
        vector.identifier,
        vector.nonce,
        vector.proof,
      ),
    ).not.toThrow();
  });

  it('credentials: a password change, its signing bytes and signature', async () => {
    const vector = readVector('credentials') as CredentialsVector;
    const password = readVector('password') as { loginProofHash: string };
    const derived = await derivePasswordKeys(vector.password, vector.identifier, vector.kdf);
    expect(bytesToBase64(derived.loginProof)).toBe(vector.loginProof);
    expect(loginProofHashHex(vector.loginProof)).toBe(vector.loginProofHash);
    expect(vector.previousProofHash).toBe(password.loginProofHash);
    const unwrapped = unwrapPrivateKey(
      vector.wrappedPrivateKey,
      derived.keyEncryptionKey,
      vector.identifier,
    );
    expect(bytesToBase64(unwrapped.pkcs8)).toBe(keys.alice.privateKey);
    const fields = {
      identifier: vector.identifier,
      generation: vector.generation,
      kdf: vector.kdf,
      wrappedPrivateKey: vector.wrappedPrivateKey,
      loginProofHash: vector.loginProofHash,
      previousProofHash: vector.previousProofHash,
    };
    expect(bytesToHex(credentialsSigningBytes(fields))).toBe(vector.signingBytes);
    const alice = importPublicKey(keys.alice.publicKey);
    expect(() => verifyCredentials(alice, fields, vector.signature)).not.toThrow();
    expect(() =>
      verifyCredentials(alice, { ...fields, generation: vector.generation - 1 }, vector.signature),
    ).toThrow(CredentialsSignatureInvalidError);
  });

  it('rotation: a key rotation statement, its two signed byte strings and signatures', () => {
    const vector = readVector('rotation') as RotationVector;
    const { statement } = vector;
    const oldKey = importPublicKey(statement.oldKey);
    const newPair = keyPairFromPrivate(importPrivateKey(base64ToBytes(vector.newPrivateKey)));
    expect(statement.oldKey).toBe(keys.alice.publicKey);
    expect(statement.newKey).toBe(newPair.publicKey.encoded);
    expect(oldKey.fingerprint).toBe(vector.oldFingerprint);
    expect(newPair.publicKey.fingerprint).toBe(vector.newFingerprint);
    const fields = {
      identifier: vector.identifier,
      counter: statement.counter,
      time: statement.time,
      oldKey,
      newKey: newPair.publicKey,
    };
    expect(bytesToHex(rotationSigningBytes(LABELS.keyRotationOld, fields))).toBe(
      vector.oldSigningBytes,
    );
    expect(bytesToHex(rotationSigningBytes(LABELS.keyRotationNew, fields))).toBe(
      vector.newSigningBytes,
    );
    expect(verifyKeyRotation(statement, vector.identifier).newKey.encoded).toBe(statement.newKey);
    // The two signatures are under distinct labels: swapped, neither verifies.
    expect(() =>
      verifyKeyRotation(
        {
          ...statement,
          oldSignature: statement.newSignature,
          newSignature: statement.oldSignature,
        },
        vector.identifier,
      ),
    ).toThrow(RotationOldSignatureInvalidError);
    // What core signs, the generator's reading of the spec accepts (and the reverse, above).
    const mine = signKeyRotation(
      vector.identifier,
      statement.counter,
      statement.time,
      keyPairFromPrivate(importPrivateKey(base64ToBytes(keys.alice.privateKey))),
      newPair,
    );
    expect(
      verify(
        'sha256',
        hexToBytes(vector.oldSigningBytes),
        { key: oldKey.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        base64ToBytes(mine.oldSignature),
      ),
    ).toBe(true);
  });

  it('deletion: an account deletion statement, its signed bytes and signature', () => {
    const vector = readVector('deletion') as DeletionVector;
    const { statement } = vector;
    const key = importPublicKey(keys.alice.publicKey);
    expect(key.fingerprint).toBe(vector.fingerprint);
    expect(
      bytesToHex(deletionSigningBytes(vector.identifier, statement.nonce, statement.time, key)),
    ).toBe(vector.signingBytes);
    expect(verifyAccountDeletion(key, vector.identifier, statement)).toEqual(statement);
    expect(() =>
      verifyAccountDeletion(key, vector.identifier, { ...statement, time: statement.time + 1 }),
    ).toThrow(DeletionSignatureInvalidError);
    // What core signs, the generator's reading of the spec accepts.
    const mine = signAccountDeletion(
      vector.identifier,
      statement.nonce,
      statement.time,
      keyPairFromPrivate(importPrivateKey(base64ToBytes(keys.alice.privateKey))),
    );
    expect(
      verify(
        'sha256',
        hexToBytes(vector.signingBytes),
        { key: key.keyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        base64ToBytes(mine.signature),
      ),
    ).toBe(true);
  });
});
