import { describe, expect, it } from '@jest/globals';
import { framedBytes, uint64Bytes } from '../../src/core/canonical-bytes.js';
import {
  AuthProofInvalidError,
  base64ToBytes,
  bytesToBase64,
  bytesToHex,
  createAuthProof,
  decodePacketBytes,
  hexToBytes,
  LABELS,
  MalformedEncodingError,
  MalformedInputError,
  newAuthNonce,
  packetSigningBytes,
  parsePacket,
  sealPacket,
  SignatureInvalidError,
  verifyAuthProof,
  verifyPacketSignature,
} from '../../src/core/index.js';
import { pssSign } from '../../src/core/rsa.js';
import { alice, bob } from '../support/parties.js';

describe('socket authentication proof', () => {
  it('verifies for the right key, nonce and identifier', () => {
    const nonce = newAuthNonce();
    const proof = createAuthProof(alice.keyPair.privateKey, alice.identifier, nonce);
    expect(() =>
      verifyAuthProof(alice.keyPair.publicKey, alice.identifier, nonce, proof),
    ).not.toThrow();
  });

  it('refuses another nonce, another identifier or another key', () => {
    const nonce = newAuthNonce();
    const proof = createAuthProof(alice.keyPair.privateKey, alice.identifier, nonce);
    const check =
      (key = alice.keyPair.publicKey, id = alice.identifier, n = nonce) =>
      () =>
        verifyAuthProof(key, id, n, proof);
    expect(check(alice.keyPair.publicKey, alice.identifier, newAuthNonce())).toThrow(
      AuthProofInvalidError,
    );
    expect(check(bob.keyPair.publicKey, bob.identifier)).toThrow(AuthProofInvalidError);
    expect(check(bob.keyPair.publicKey)).toThrow(AuthProofInvalidError);
  });

  it('refuses malformed proofs and nonces with typed errors', () => {
    const nonce = newAuthNonce();
    const key = alice.keyPair.publicKey;
    expect(() => verifyAuthProof(key, alice.identifier, nonce, 42)).toThrow(MalformedInputError);
    expect(() => verifyAuthProof(key, alice.identifier, nonce, '***')).toThrow(
      MalformedEncodingError,
    );
    expect(() =>
      verifyAuthProof(key, alice.identifier, 'short', bytesToBase64(new Uint8Array(256))),
    ).toThrow(MalformedEncodingError);
  });
});

describe('domain separation', () => {
  const nonce = newAuthNonce();
  const sameFields = [base64ToBytes(nonce), hexToBytes(alice.identifier)];
  const signUnder = (label: string) =>
    bytesToBase64(pssSign(alice.keyPair.privateKey.keyObject, framedBytes(label, sameFields)));

  it('gives every purpose its own label', () => {
    expect(new Set(Object.values(LABELS)).size).toBe(Object.keys(LABELS).length);
  });

  it('refuses as an auth proof the same fields signed under the packet label', () => {
    expect(() =>
      verifyAuthProof(
        alice.keyPair.publicKey,
        alice.identifier,
        nonce,
        signUnder(LABELS.packetSignature),
      ),
    ).toThrow(AuthProofInvalidError);
    expect(() =>
      verifyAuthProof(alice.keyPair.publicKey, alice.identifier, nonce, signUnder(LABELS.auth)),
    ).not.toThrow();
  });

  it('refuses as a packet signature the same fields signed under the auth label', () => {
    const packet = parsePacket(
      sealPacket({
        sender: { identifier: alice.identifier, keyPair: alice.keyPair },
        recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
        body: { v: 1, type: 'text', text: 'hi' },
      }),
    );
    const bytes = decodePacketBytes(packet);
    const fields = framedBytes(LABELS.auth, [
      Uint8Array.of(1),
      hexToBytes(packet.id),
      hexToBytes(packet.from),
      hexToBytes(packet.to),
      uint64Bytes(packet.time),
      bytes.iv,
      bytes.ct,
      bytes.keyTo,
      bytes.keyFrom,
    ]);
    expect(bytesToHex(fields.subarray(LABELS.auth.length))).toBe(
      bytesToHex(packetSigningBytes(packet).subarray(LABELS.packetSignature.length)),
    );
    const forged = {
      ...packet,
      sig: bytesToBase64(pssSign(alice.keyPair.privateKey.keyObject, fields)),
    };
    expect(() => {
      verifyPacketSignature(forged, alice.keyPair.publicKey);
    }).toThrow(SignatureInvalidError);
  });
});
