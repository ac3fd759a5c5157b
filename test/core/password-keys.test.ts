import { describe, expect, it } from '@jest/globals';
import {
  assertPasswordAcceptable,
  base64ToBytes,
  bytesToBase64,
  derivePasswordKeys,
  hashLoginProof,
  identifierFromUsername,
  KDF_MIN_ITERATIONS,
  KdfAboveCeilingError,
  KdfBelowFloorError,
  MalformedEncodingError,
  MalformedInputError,
  newKdfParams,
  OversizeError,
  parseKdfParams,
  unwrapPrivateKey,
  WeakPasswordError,
  wrapPrivateKey,
  WrongPasswordError,
} from '../../src/core/index.js';
import { captureAsyncError } from '../support/capture-error.js';
import { alice } from '../support/parties.js';

const params = newKdfParams();

describe('derivePasswordKeys', () => {
  it('gives a key-encryption key and a login proof that differ and are stable', async () => {
    const first = await derivePasswordKeys('correct horse', alice.identifier, params);
    const second = await derivePasswordKeys('correct horse', alice.identifier, params);
    expect(first.keyEncryptionKey).toHaveLength(32);
    expect(first.loginProof).toHaveLength(32);
    expect(first.keyEncryptionKey).not.toEqual(first.loginProof);
    expect(second).toEqual(first);
    expect(hashLoginProof(first.loginProof)).not.toEqual(first.loginProof);
  });

  it('binds the derivation to the identifier, so one salt served to everyone gains nothing', async () => {
    const forAlice = await derivePasswordKeys('correct horse', alice.identifier, params);
    const forBob = await derivePasswordKeys('correct horse', identifierFromUsername('bob'), params);
    expect(forBob.loginProof).not.toEqual(forAlice.loginProof);
  });

  it('gives different keys for a different salt', async () => {
    const one = await derivePasswordKeys('correct horse', alice.identifier, params);
    const two = await derivePasswordKeys('correct horse', alice.identifier, newKdfParams());
    expect(two.loginProof).not.toEqual(one.loginProof);
  });

  it.each([
    ['1 iteration', 1],
    ['one below the floor', KDF_MIN_ITERATIONS - 1],
    ['zero', 0],
    ['negative (below the floor, not a type error: protocol section 4)', -1],
    ['the most negative safe integer', -Number.MAX_SAFE_INTEGER],
  ])(
    'refuses parameters below the floor (%s) before deriving anything',
    async (_why, iterations) => {
      const error = await captureAsyncError(() =>
        derivePasswordKeys('correct horse', alice.identifier, { ...params, iterations }),
      );
      expect(error).toBeInstanceOf(KdfBelowFloorError);
    },
  );

  it('checks parameters before deriving: a billion iterations is refused at once, not computed', async () => {
    const error = await captureAsyncError(() =>
      derivePasswordKeys('correct horse', alice.identifier, { ...params, iterations: 1e9 }),
    );
    expect(error).toBeInstanceOf(KdfAboveCeilingError);
  });

  it.each([
    ['an unknown algorithm', { ...params, algorithm: 'md5' }, MalformedInputError],
    ['a short salt', { ...params, salt: bytesToBase64(new Uint8Array(8)) }, MalformedInputError],
    ['a bad salt encoding', { ...params, salt: '!!' }, MalformedEncodingError],
    ['NaN iterations', { ...params, iterations: Number.NaN }, MalformedInputError],
    ['Infinity iterations', { ...params, iterations: Infinity }, MalformedInputError],
    ['fractional iterations', { ...params, iterations: 600000.5 }, MalformedInputError],
    ['an extra field', { ...params, memory: 1 }, MalformedInputError],
    [
      'a missing field',
      { algorithm: params.algorithm, iterations: params.iterations },
      MalformedInputError,
    ],
    ['null', null, MalformedInputError],
  ])('refuses KDF parameters with %s', (_why, input, type) => {
    expect(() => parseKdfParams(input)).toThrow(type);
  });
});

describe('password policy', () => {
  it('refuses short, empty, non-string and huge passwords', () => {
    expect(() => assertPasswordAcceptable('short')).toThrow(WeakPasswordError);
    expect(() => assertPasswordAcceptable('')).toThrow(WeakPasswordError);
    expect(() => assertPasswordAcceptable(12345678)).toThrow(WeakPasswordError);
    expect(() => assertPasswordAcceptable('x'.repeat(2000))).toThrow(OversizeError);
    expect(() => assertPasswordAcceptable('long enough')).not.toThrow();
  });

  it('counts characters as code points after NFKC, as the spec says', () => {
    expect(() => assertPasswordAcceptable('😀😀😀😀😀😀😀')).toThrow(WeakPasswordError);
    expect(() => assertPasswordAcceptable('😀😀😀😀😀😀😀😀')).not.toThrow();
    expect(() => assertPasswordAcceptable('😀'.repeat(1024))).not.toThrow();
    expect(() => assertPasswordAcceptable('😀'.repeat(1025))).toThrow(OversizeError);
  });
});

describe('private key wrapping', () => {
  it('round-trips, and fails as WrongPasswordError for a wrong password', async () => {
    const keys = await derivePasswordKeys('correct horse', alice.identifier, params);
    const wrapped = wrapPrivateKey(
      alice.keyPair.privateKey,
      keys.keyEncryptionKey,
      alice.identifier,
    );
    const unwrapped = unwrapPrivateKey(wrapped, keys.keyEncryptionKey, alice.identifier);
    expect(unwrapped.pkcs8).toEqual(alice.keyPair.privateKey.pkcs8);

    const wrong = await derivePasswordKeys('wrong horse', alice.identifier, params);
    expect(() => unwrapPrivateKey(wrapped, wrong.keyEncryptionKey, alice.identifier)).toThrow(
      WrongPasswordError,
    );
  });

  it("refuses a wrapped key served under someone else's identifier (AAD binding)", async () => {
    const keys = await derivePasswordKeys('correct horse', alice.identifier, params);
    const wrapped = wrapPrivateKey(
      alice.keyPair.privateKey,
      keys.keyEncryptionKey,
      alice.identifier,
    );
    const mallory = identifierFromUsername('mallory');
    expect(() => unwrapPrivateKey(wrapped, keys.keyEncryptionKey, mallory)).toThrow(
      WrongPasswordError,
    );
  });

  it('refuses a tampered or truncated wrapped key', async () => {
    const keys = await derivePasswordKeys('correct horse', alice.identifier, params);
    const wrapped = wrapPrivateKey(
      alice.keyPair.privateKey,
      keys.keyEncryptionKey,
      alice.identifier,
    );
    const ct = base64ToBytes(wrapped.ct);
    ct[10] = (ct[10] ?? 0) ^ 0x80;
    const flipped = { ...wrapped, ct: bytesToBase64(ct) };
    expect(() => unwrapPrivateKey(flipped, keys.keyEncryptionKey, alice.identifier)).toThrow(
      WrongPasswordError,
    );
    const truncated = { ...wrapped, ct: bytesToBase64(ct.subarray(0, 12)) };
    expect(() => unwrapPrivateKey(truncated, keys.keyEncryptionKey, alice.identifier)).toThrow(
      MalformedInputError,
    );
  });
});
