import { describe, expect, it } from '@jest/globals';
import {
  assertKeyPairMatches,
  assertPasswordAcceptable,
  base64ToBytes,
  bytesToBase64,
  followRotations,
  signCredentials,
  signKeyRotation,
  signAccountDeletion,
  verifyAccountDeletion,
  verifyCredentials,
  verifyKeyRotation,
  createAuthProof,
  ERROR_CODES,
  identifierFromUsername,
  importPublicKey,
  MetaChatError,
  newAuthNonce,
  normalizeUsername,
  openPacket,
  parseKdfParams,
  parsePacket,
  sealPacket,
  systemRandom,
  toWireError,
  unwrapPrivateKey,
  utf8ToBytes,
  verifyAuthProof,
  wrapPrivateKey,
  checkChange,
  pairConversation,
  type ChangeMessage,
  type ErrorCode,
  type MessageOrigin,
  type Packet,
} from '../../src/core/index.js';
import {
  addMemberEntry,
  createGroupEntry,
  openGroupMessage,
  removeMemberEntry,
  sealGroupMessage,
  setAdminsEntry,
  updateGroupLog,
} from '../../src/core/index.js';
import { checkServedCredentials } from '../../src/cli/relay/account.js';
import { appended, fillers, keyringOf, logOf } from '../support/groups.js';
import { captureError } from '../support/capture-error.js';
import { alice, bob } from '../support/parties.js';
import { sealRaw } from '../support/seal-raw.js';

const packet: Packet = sealPacket({
  sender: { identifier: alice.identifier, keyPair: alice.keyPair },
  recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
  body: { v: 1, type: 'text', text: 'hi' },
});
const credentialsFields = {
  identifier: alice.identifier,
  generation: 2,
  kdf: {
    algorithm: 'pbkdf2-sha256' as const,
    iterations: 600_000,
    salt: bytesToBase64(new Uint8Array(16)),
  },
  wrappedPrivateKey: wrapPrivateKey(alice.keyPair.privateKey, new Uint8Array(32), alice.identifier),
  loginProofHash: '00'.repeat(32),
  previousProofHash: '11'.repeat(32),
};
const aliceCredentialsSignature = signCredentials(alice.keyPair.privateKey, credentialsFields);
/** Alice hands her identifier over to Bob's key pair (any other key pair would do). */
const rotation = signKeyRotation(
  alice.identifier,
  1,
  1_700_000_000_000,
  alice.keyPair,
  bob.keyPair,
);
const asBob = (p: unknown) =>
  openPacket({
    packet: p,
    reader: { identifier: bob.identifier, privateKey: bob.keyPair.privateKey },
    sender: { identifier: alice.identifier, publicKey: alice.keyPair.publicKey },
  });
const pair = keyringOf([alice, bob]);
const withBob = [{ identifier: bob.identifier, publicKey: bob.keyPair.publicKey }];
const groupOf = (others = withBob) => logOf([createGroupEntry(alice, others, 'Trip')], pair);
const group = groupOf();
const grown = appended(
  group,
  setAdminsEntry(group, alice, [alice.identifier, bob.identifier], pair),
  pair,
);
const bobSays = (log = grown) =>
  sealGroupMessage({ sender: bob, log, keyOf: pair, body: { v: 1, type: 'text', text: 'hi' } });
const kdf = { algorithm: 'pbkdf2-sha256', iterations: 600_000, salt: 'AAAAAAAAAAAAAAAAAAAAAA==' };

const aliceAndBob = pairConversation(alice.identifier, bob.identifier);
const aliceText: MessageOrigin = {
  id: '0'.repeat(32),
  from: alice.identifier,
  conversation: aliceAndBob,
  time: 1,
  body: { v: 1, type: 'text', text: 'hi' },
};
const aliceEdits: ChangeMessage = {
  id: '1'.repeat(32),
  from: alice.identifier,
  conversation: aliceAndBob,
  time: 2,
  body: { v: 1, type: 'edit', target: aliceText.id, text: 'hello' },
};
const bobEdits: ChangeMessage = { ...aliceEdits, from: bob.identifier };

/** One real way to reach each failure; the table must cover every code core can report. */
const triggers: Record<ErrorCode, () => unknown> = {
  INVALID_USERNAME: () => normalizeUsername('a'),
  WEAK_PASSWORD: () => assertPasswordAcceptable('short'),
  MALFORMED_ENCODING: () => base64ToBytes('*'),
  MALFORMED_INPUT: () => parsePacket({}),
  OVERSIZE: () => parsePacket({ ...packet, ct: 'A'.repeat(100_000) }),
  UNSUPPORTED_VERSION: () => parsePacket({ ...packet, v: 9 }),
  INVALID_KEY: () => importPublicKey('AAAA'),
  KEY_MISMATCH: () => assertKeyPairMatches(bob.keyPair.privateKey, alice.keyPair.publicKey),
  SIGNATURE_INVALID: () => asBob({ ...packet, time: packet.time + 1 }),
  SENDER_MISMATCH: () =>
    openPacket({
      packet,
      reader: { identifier: bob.identifier, privateKey: bob.keyPair.privateKey },
      sender: { identifier: bob.identifier, publicKey: alice.keyPair.publicKey },
    }),
  USERNAME_MISMATCH: () =>
    asBob(
      sealPacket({
        sender: { identifier: alice.identifier, keyPair: alice.keyPair },
        recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
        body: { v: 1, type: 'hello', username: 'bob' },
      }),
    ),
  AUTH_PROOF_INVALID: () =>
    verifyAuthProof(
      alice.keyPair.publicKey,
      alice.identifier,
      newAuthNonce(),
      createAuthProof(alice.keyPair.privateKey, alice.identifier, newAuthNonce()),
    ),
  NOT_ADDRESSED_TO_ME: () =>
    openPacket({
      packet,
      reader: { identifier: identifierFromUsername('carol'), privateKey: alice.keyPair.privateKey },
      sender: { identifier: alice.identifier, publicKey: alice.keyPair.publicKey },
    }),
  DECRYPTION_FAILED: () =>
    asBob(sealRaw(alice, bob, { plaintext: utf8ToBytes('{}'), corruptCiphertext: true })),
  MALFORMED_BODY: () => asBob(sealRaw(alice, bob, { plaintext: utf8ToBytes('not json') })),
  WRONG_PASSWORD: () =>
    unwrapPrivateKey(
      wrapPrivateKey(alice.keyPair.privateKey, systemRandom(32), alice.identifier),
      systemRandom(32),
      alice.identifier,
    ),
  KDF_BELOW_FLOOR: () => parseKdfParams({ ...kdf, iterations: 1 }),
  KDF_ABOVE_CEILING: () => parseKdfParams({ ...kdf, iterations: 2 ** 40 }),
  CREDENTIALS_SIGNATURE_INVALID: () =>
    verifyCredentials(bob.keyPair.publicKey, credentialsFields, aliceCredentialsSignature),
  ROTATION_OLD_SIGNATURE_INVALID: () =>
    verifyKeyRotation({ ...rotation, oldSignature: rotation.newSignature }, alice.identifier),
  ROTATION_NEW_SIGNATURE_INVALID: () =>
    verifyKeyRotation({ ...rotation, newSignature: rotation.oldSignature }, alice.identifier),
  ROTATION_IDENTIFIER_MISMATCH: () => verifyKeyRotation(rotation, bob.identifier),
  ROTATION_CHAIN_BROKEN: () =>
    followRotations(alice.identifier, bob.keyPair.publicKey, alice.keyPair.publicKey, [rotation]),
  DELETION_SIGNATURE_INVALID: () =>
    verifyAccountDeletion(
      bob.keyPair.publicKey,
      alice.identifier,
      signAccountDeletion(alice.identifier, newAuthNonce(), 1, alice.keyPair),
    ),
  ROTATION_ROLLED_BACK: () =>
    followRotations(
      alice.identifier,
      alice.keyPair.publicKey,
      bob.keyPair.publicKey,
      [rotation],
      [],
      2,
    ),
  CREDENTIALS_ROLLED_BACK: () =>
    checkServedCredentials(
      {
        ...credentialsFields,
        publicKey: alice.keyPair.publicKey,
        loginProof: bytesToBase64(new Uint8Array(32)),
      },
      5,
    ),
  GROUP_CHAIN_BROKEN: () =>
    updateGroupLog(
      null,
      grown.entries.slice(1).map((e) => e.entry),
      pair,
      grown.group,
    ),
  GROUP_FORKED: () =>
    updateGroupLog(group, [createGroupEntry(alice, withBob, 'Trip')], pair, group.group),
  GROUP_ROLLBACK: () => updateGroupLog(grown, [group.entries[0]?.entry], pair, grown.group),
  GROUP_HEAD_UNKNOWN: () =>
    openGroupMessage({
      packet: bobSays(),
      reader: { identifier: alice.identifier, privateKey: alice.keyPair.privateKey },
      log: group,
      keyOf: pair,
    }),
  GROUP_NOT_MEMBER: () => bobSays(groupOf([])),
  GROUP_NOT_ADMIN: () => setAdminsEntry(group, bob, [bob.identifier], pair),
  GROUP_MEMBERSHIP_INVALID: () => removeMemberEntry(group, alice, alice.identifier, pair),
  GROUP_SENDER_REMOVED: () =>
    openGroupMessage({
      packet: bobSays(),
      reader: { identifier: alice.identifier, privateKey: alice.keyPair.privateKey },
      log: appended(grown, removeMemberEntry(grown, alice, bob.identifier, pair), pair),
      keyOf: pair,
    }),
  GROUP_KEY_MISMATCH: () =>
    sealGroupMessage({
      sender: alice,
      log: group,
      keyOf: keyringOf([alice, { ...bob, keyPair: alice.keyPair }]),
      body: { v: 1, type: 'text', text: 'hi' },
    }),
  GROUP_FULL: () =>
    addMemberEntry(
      groupOf(fillers(99, bob.keyPair.publicKey)),
      alice,
      { identifier: identifierFromUsername('one-too-many'), publicKey: bob.keyPair.publicKey },
      pair,
    ),
  EDIT_FORBIDDEN: () => checkChange(bobEdits, aliceText),
  EDIT_CONVERSATION_MISMATCH: () =>
    checkChange(aliceEdits, {
      ...aliceText,
      conversation: pairConversation(alice.identifier, alice.identifier),
    }),
  EDIT_TARGET_INVALID: () =>
    checkChange(aliceEdits, { ...aliceText, body: { v: 1, type: 'hello', username: 'alice' } }),
};

describe('typed errors', () => {
  it.each([...ERROR_CODES])('%s is thrown by its own class with an actionable message', (code) => {
    const error = captureError(triggers[code]);
    expect(error).toBeInstanceOf(MetaChatError);
    expect(error instanceof MetaChatError ? error.code : undefined).toBe(code);
    expect(error.name).toMatch(/Error$/);
    expect(error.name).not.toBe('MetaChatError');
    expect(error.message.length).toBeGreaterThan(10);
    expect(toWireError(error)).toEqual({ code, message: error.message });
  });

  it('gives every code its own class', () => {
    const names = ERROR_CODES.map((code) => captureError(triggers[code]).name);
    expect(new Set(names).size).toBe(ERROR_CODES.length);
  });

  it('never leaks the text of an unexpected error onto the wire', () => {
    expect(toWireError(new Error('/home/alice/.config secret'))).toEqual({
      code: 'INTERNAL',
      message: 'Internal error; the operation was not performed.',
    });
    expect(toWireError('a string')).toMatchObject({ code: 'INTERNAL' });
  });
});
