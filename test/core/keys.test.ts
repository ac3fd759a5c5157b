import { describe, expect, it } from '@jest/globals';
import { generateKeyPairSync } from 'node:crypto';
import {
  assertKeyPairMatches,
  bytesToBase64,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
  InvalidKeyError,
  KeyMismatchError,
  keyResultSchema,
  MalformedEncodingError,
  OversizeError,
  parseAck,
  safetyNumber,
} from '../../src/core/index.js';
import { alice, bob } from '../support/parties.js';

function der(spkiOrPkcs8: Buffer): string {
  return bytesToBase64(spkiOrPkcs8);
}

describe('key pairs', () => {
  it('generates RSA-2048 keys that export and re-import to the same fingerprint', async () => {
    const pair = await generateKeyPair();
    expect(pair.publicKey.keyObject.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const again = importPublicKey(pair.publicKey.encoded);
    expect(again.fingerprint).toBe(pair.publicKey.fingerprint);
    expect(pair.publicKey.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(importPrivateKey(pair.privateKey.pkcs8).keyObject.type).toBe('private');
  });

  it('lets a served key of the wrong size through the wire schema, to be INVALID_KEY on import', () => {
    const big = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const served = der(big.publicKey.export({ type: 'spki', format: 'der' }));
    const answer = parseAck(keyResultSchema, { ok: true, publicKey: served }, 'key');
    expect(answer).toEqual({ ok: true, result: { publicKey: served } });
    expect(() => importPublicKey(served)).toThrow(InvalidKeyError);
    expect(() =>
      parseAck(keyResultSchema, { ok: true, publicKey: 'A'.repeat(1028) }, 'key'),
    ).toThrow(OversizeError);
  });

  it('refuses RSA keys of another size or exponent, and non-RSA keys', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const exp3 = generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 3 });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (const pair of [small, exp3, ec]) {
      expect(() =>
        importPublicKey(der(pair.publicKey.export({ type: 'spki', format: 'der' }))),
      ).toThrow(InvalidKeyError);
      const pkcs8 = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
      expect(() => importPrivateKey(pkcs8)).toThrow(InvalidKeyError);
    }
  });

  it('refuses garbage, truncated DER and trailing bytes', () => {
    const spki = alice.keyPair.publicKey.spki;
    expect(() => importPublicKey('AAAA')).toThrow(InvalidKeyError);
    expect(() => importPublicKey(bytesToBase64(spki.subarray(0, 100)))).toThrow(InvalidKeyError);
    const trailing = Uint8Array.from([...spki, 0]);
    expect(() => importPublicKey(bytesToBase64(trailing))).toThrow(InvalidKeyError);
    expect(() => importPublicKey('not base64!')).toThrow(MalformedEncodingError);
  });

  it('tells a matching private key from one served for somebody else', () => {
    expect(() =>
      assertKeyPairMatches(alice.keyPair.privateKey, alice.keyPair.publicKey),
    ).not.toThrow();
    expect(() => assertKeyPairMatches(bob.keyPair.privateKey, alice.keyPair.publicKey)).toThrow(
      KeyMismatchError,
    );
  });
});

describe('safetyNumber', () => {
  const a = { identifier: alice.identifier, publicKey: alice.keyPair.publicKey };
  const b = { identifier: bob.identifier, publicKey: bob.keyPair.publicKey };

  it('is 60 digits in 12 groups of 5, the same from both sides', () => {
    const number = safetyNumber(a, b);
    expect(number).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(safetyNumber(b, a)).toBe(number);
  });

  it('changes when either key changes', async () => {
    const other = await generateKeyPair();
    expect(safetyNumber(a, { ...b, publicKey: other.publicKey })).not.toBe(safetyNumber(a, b));
    expect(safetyNumber({ ...a, publicKey: other.publicKey }, b)).not.toBe(safetyNumber(a, b));
  });
});
