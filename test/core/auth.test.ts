import { describe, expect, it } from '@jest/globals';
import {
  authSigningBytes,
  AuthProofInvalidError,
  bytesToBase64,
  createAuthProof,
  MalformedEncodingError,
  MalformedInputError,
  newAuthNonce,
  openPacket,
  packetSigningBytes,
  parsePacket,
  sealPacket,
  SignatureInvalidError,
  verifyAuthProof,
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
  it('an auth proof never passes as a packet signature', () => {
    const packet = sealPacket({
      sender: { identifier: alice.identifier, keyPair: alice.keyPair },
      recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
      body: { v: 1, type: 'text', text: 'hi' },
    });
    // Even if a server got alice to sign "nonce" bytes equal to anything, the label differs.
    const forged = {
      ...packet,
      sig: createAuthProof(alice.keyPair.privateKey, alice.identifier, newAuthNonce()),
    };
    expect(() =>
      openPacket({
        packet: forged,
        reader: { identifier: bob.identifier, privateKey: bob.keyPair.privateKey },
        senderPublicKey: alice.keyPair.publicKey,
      }),
    ).toThrow(SignatureInvalidError);
  });

  it('a packet signature never passes as an auth proof', () => {
    const nonce = newAuthNonce();
    const packet = parsePacket(
      sealPacket({
        sender: { identifier: alice.identifier, keyPair: alice.keyPair },
        recipient: { identifier: bob.identifier, publicKey: bob.keyPair.publicKey },
        body: { v: 1, type: 'text', text: 'hi' },
      }),
    );
    const packetSig = bytesToBase64(
      pssSign(alice.keyPair.privateKey.keyObject, packetSigningBytes(packet)),
    );
    expect(() =>
      verifyAuthProof(alice.keyPair.publicKey, alice.identifier, nonce, packetSig),
    ).toThrow(AuthProofInvalidError);
  });

  it('the two signed byte strings start with different labels', () => {
    const auth = new TextDecoder().decode(
      authSigningBytes(newAuthNonce(), alice.identifier).subarray(0, 17),
    );
    expect(auth).toBe('MetaChat-v1/auth\u0000');
  });
});
