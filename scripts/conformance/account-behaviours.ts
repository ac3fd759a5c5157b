import { generateKeyPairSync } from 'node:crypto';
import { base64ToBytes, bytesToBase64 } from '../../src/core/index.js';
import {
  newUser,
  unregisteredIdentifier,
  type Behaviour,
  type Fixture,
  type User,
} from './fixtures.js';
import { check, expectCode, expectOk, Violation } from './wire.js';

const ZEROS_32 = bytesToBase64(new Uint8Array(32));

let probe: Promise<User> | undefined;

/** A registration request that is valid except for what `change` does to it (one key per run). */
async function registration(change: (request: Record<string, unknown>) => void = () => undefined) {
  probe ??= newUser('probe');
  const request: Record<string, unknown> = { ...(await probe).registration };
  change(request);
  return request;
}

function spki(type: 'rsa' | 'ec', options: Record<string, unknown>): string {
  const { publicKey } = generateKeyPairSync(type as 'rsa', {
    ...(options as { modulusLength: number }),
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  });
  return bytesToBase64(publicKey);
}

/** Runs each named request on a fresh connection and requires the given code for each. */
async function refusesAll(
  f: Fixture,
  event: string,
  cases: Record<string, { payload: unknown; code: string }>,
): Promise<void> {
  const wire = await f.connect();
  const wrong: string[] = [];
  for (const [name, { payload, code }] of Object.entries(cases)) {
    const answer = await wire.request(event, payload);
    const got = answer.ok ? 'accepted' : answer.code;
    if (got !== code) wrong.push(`${name}: ${got}, expected ${code}`);
  }
  if (wrong.length > 0) throw new Violation(wrong.join('; '));
}

/** Registration, prelogin and login (sections 1, 3, 4, 10.1, 10.3). */
export const ACCOUNT_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'register-ok',
    section: '10.1',
    says: 'accepts a valid registration with the empty result {}, then serves its KDF parameters and key',
    run: async (f) => {
      const carol = await newUser('carol');
      const result = expectOk(
        await (await f.connect()).request('register', carol.registration),
        'register',
      );
      check(Object.keys(result).length === 0, 'the result of register is not {}');
      const { kdf } = expectOk(
        await f.aliceWire.request('prelogin', { identifier: carol.identifier }),
        'prelogin',
      );
      check(
        JSON.stringify(kdf) === JSON.stringify(carol.registration.kdf),
        'prelogin does not serve the registered KDF parameters',
      );
      const { publicKey } = expectOk(
        await f.aliceWire.request('key', { identifier: carol.identifier }),
        'key',
      );
      check(
        publicKey === carol.registration.publicKey,
        'key does not serve the registered public key',
      );
    },
  },
  {
    id: 'register-taken',
    section: '10.1',
    says: 'refuses a registration of a taken identifier with ALREADY_REGISTERED',
    run: async (f) => {
      expectCode(
        await (await f.connect()).request('register', f.bob.registration),
        'ALREADY_REGISTERED',
        'second registration of Bob',
      );
    },
  },
  {
    id: 'register-per-connection-limit',
    section: '10.3',
    says: 'refuses a fourth registration on one connection (taken ones count) with RATE_LIMITED',
    run: async (f) => {
      const wire = await f.connect();
      const dave = await newUser('dave');
      expectOk(await wire.request('register', dave.registration), 'first registration');
      for (const n of ['second', 'third'])
        expectCode(
          await wire.request('register', dave.registration),
          'ALREADY_REGISTERED',
          `${n} registration`,
        );
      expectCode(
        await wire.request('register', await registration()),
        'RATE_LIMITED',
        'fourth registration',
      );
    },
  },
  {
    id: 'register-key-size',
    section: '3',
    says: 'refuses every public key that is not a 294-byte RSA-2048 SPKI with INVALID_KEY',
    run: async (f) => {
      const good = base64ToBytes((await registration())['publicKey']);
      const keys = {
        rsa3072: spki('rsa', { modulusLength: 3072 }),
        exponent3: spki('rsa', { modulusLength: 2048, publicExponent: 3 }),
        ec: spki('ec', { namedCurve: 'P-256' }),
        trailingByte: bytesToBase64(Uint8Array.from([...good, 0])),
        lastByteMissing: bytesToBase64(good.subarray(0, good.length - 1)),
        notAKey: bytesToBase64(new Uint8Array(294).fill(7)),
      };
      const cases: Record<string, { payload: unknown; code: string }> = {};
      for (const [name, publicKey] of Object.entries(keys))
        cases[name] = {
          payload: await registration((r) => (r['publicKey'] = publicKey)),
          code: 'INVALID_KEY',
        };
      cases['text over 1,024 characters'] = {
        payload: await registration((r) => (r['publicKey'] = 'A'.repeat(1028))),
        code: 'OVERSIZE',
      };
      await refusesAll(f, 'register', cases);
    },
  },
  {
    id: 'register-kdf-bounds',
    section: '4',
    says: 'refuses iterations under 600,000 (0 and negatives too) with KDF_BELOW_FLOOR, over 10,000,000 with KDF_ABOVE_CEILING',
    run: async (f) => {
      const kdf = (iterations: number) =>
        registration((r) => (r['kdf'] = { ...(r['kdf'] as object), iterations }));
      await refusesAll(f, 'register', {
        '599999': { payload: await kdf(599_999), code: 'KDF_BELOW_FLOOR' },
        '0': { payload: await kdf(0), code: 'KDF_BELOW_FLOOR' },
        '-1': { payload: await kdf(-1), code: 'KDF_BELOW_FLOOR' },
        '10000001': { payload: await kdf(10_000_001), code: 'KDF_ABOVE_CEILING' },
        '1.5': { payload: await kdf(1.5), code: 'MALFORMED_INPUT' },
      });
    },
  },
  {
    id: 'register-shape',
    section: '1',
    says: 'refuses unknown, missing and wrong-typed fields with MALFORMED_INPUT',
    run: async (f) =>
      refusesAll(f, 'register', {
        'unknown field': {
          payload: await registration((r) => (r['extra'] = 1)),
          code: 'MALFORMED_INPUT',
        },
        'missing field': {
          payload: await registration((r) => delete r['loginProof']),
          code: 'MALFORMED_INPUT',
        },
        'number for a string': {
          payload: await registration((r) => (r['identifier'] = 1)),
          code: 'MALFORMED_INPUT',
        },
        'not an object': { payload: 'register me', code: 'MALFORMED_INPUT' },
      }),
  },
  {
    id: 'field-length-codes',
    section: '1',
    says: 'judges a wrong-length field: too long OVERSIZE, not hex/base64 MALFORMED_ENCODING, too short MALFORMED_INPUT',
    run: async (f) => {
      const id = (identifier: string) => ({ payload: { identifier }, code: '' });
      const cases = {
        'identifier of 65 digits': { ...id('a'.repeat(65)), code: 'OVERSIZE' },
        'identifier of 63 digits': { ...id('a'.repeat(63)), code: 'MALFORMED_INPUT' },
        'empty identifier': { ...id(''), code: 'MALFORMED_INPUT' },
        'uppercase identifier': { ...id('A'.repeat(64)), code: 'MALFORMED_ENCODING' },
      };
      await refusesAll(f, 'prelogin', cases);
      await refusesAll(f, 'login', {
        'proof of 33 bytes': {
          payload: {
            identifier: unregisteredIdentifier(),
            loginProof: bytesToBase64(new Uint8Array(33)),
          },
          code: 'OVERSIZE',
        },
        'proof of 31 bytes': {
          payload: {
            identifier: unregisteredIdentifier(),
            loginProof: bytesToBase64(new Uint8Array(31)),
          },
          code: 'MALFORMED_INPUT',
        },
        'non-canonical base64': {
          payload: {
            identifier: unregisteredIdentifier(),
            loginProof: `${ZEROS_32.slice(0, -2)}B=`,
          },
          code: 'MALFORMED_ENCODING',
        },
      });
    },
  },
  {
    id: 'prelogin-unknown',
    section: '10.1',
    says: 'serves stable, valid-looking KDF parameters (600,000 iterations) for an unknown identifier',
    run: async (f) => {
      const identifier = unregisteredIdentifier();
      const first = expectOk(await f.registrar.request('prelogin', { identifier }), 'prelogin');
      const second = expectOk(await f.registrar.request('prelogin', { identifier }), 'prelogin');
      check(
        JSON.stringify(first) === JSON.stringify(second),
        'two answers for one identifier differ',
      );
      const kdf = first['kdf'] as { algorithm?: unknown; iterations?: unknown; salt?: unknown };
      check(
        kdf.algorithm === 'pbkdf2-sha256' && kdf.iterations === 600_000,
        'not the default parameters',
      );
      check(
        typeof kdf.salt === 'string' && base64ToBytes(kdf.salt).length === 16,
        'salt is not 16 bytes',
      );
    },
  },
  {
    id: 'login-ok',
    section: '10.1',
    says: 'trades the right login proof for the registered public key and wrapped private key',
    run: async (f) => {
      const { identifier, loginProof, publicKey, wrappedPrivateKey } = f.alice.registration;
      const result = expectOk(
        await (await f.connect()).request('login', { identifier, loginProof }),
        'login',
      );
      check(
        JSON.stringify(result) === JSON.stringify({ publicKey, wrappedPrivateKey }),
        'login did not return exactly the registered keys',
      );
    },
  },
  {
    id: 'login-failed',
    section: '10.1',
    says: 'answers a wrong proof and an unknown identifier alike with LOGIN_FAILED',
    run: async (f) => {
      const wire = await f.connect();
      const wrongProof = { identifier: f.bob.identifier, loginProof: ZEROS_32 };
      expectCode(await wire.request('login', wrongProof), 'LOGIN_FAILED', 'wrong proof');
      const unknown = { identifier: unregisteredIdentifier(), loginProof: ZEROS_32 };
      expectCode(await wire.request('login', unknown), 'LOGIN_FAILED', 'unknown identifier');
    },
  },
  {
    id: 'login-limits',
    section: '10.1',
    says: 'after 5 failures for one identifier answers RATE_LIMITED; closes a connection after 10 failures',
    run: async (f) => {
      const wire = await f.connect();
      const attempt = (identifier: string) =>
        wire.request('login', { identifier, loginProof: ZEROS_32 });
      const first = unregisteredIdentifier();
      for (let i = 1; i <= 5; i++) expectCode(await attempt(first), 'LOGIN_FAILED', `failure ${i}`);
      expectCode(await attempt(first), 'RATE_LIMITED', 'sixth login for one identifier');
      const second = unregisteredIdentifier();
      for (let i = 6; i <= 10; i++)
        expectCode(await attempt(second), 'LOGIN_FAILED', `failure ${i}`);
      await wire.closed();
    },
  },
];
