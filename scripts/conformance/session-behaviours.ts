import { base64ToBytes, bytesToBase64, createAuthProof } from '../../src/core/index.js';
import {
  authenticate,
  textPacket,
  unregisteredIdentifier,
  type Behaviour,
  type Fixture,
  type User,
} from './fixtures.js';
import { check, expectCode, expectOk, type Wire } from './wire.js';

/** Most authenticated connections one identifier may hold (section 10.3). */
const SOCKETS_PER_IDENTIFIER = 16;

async function nonceOf(wire: Wire): Promise<string> {
  const { nonce } = expectOk(await wire.request('challenge'), 'challenge');
  check(typeof nonce === 'string', 'challenge answered without a nonce');
  return nonce;
}

function proofFor(user: User, nonce: string, identifier = user.identifier) {
  return { identifier, proof: createAuthProof(user.keyPair.privateKey, identifier, nonce) };
}

/** A proof signed by the wrong key: valid shape, fails verification. */
async function wrongProof(f: Fixture, wire: Wire) {
  const nonce = await nonceOf(wire);
  return {
    identifier: f.alice.identifier,
    proof: createAuthProof(f.bob.keyPair.privateKey, f.alice.identifier, nonce),
  };
}

/** Challenge, authentication, identity binding and `key` (sections 9, 10.1, 10.3). */
export const SESSION_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'challenge-nonce',
    section: '9',
    says: 'answers challenge (no argument) with a fresh 32-byte base64 nonce each time',
    run: async (f) => {
      const wire = await f.connect();
      const first = await nonceOf(wire);
      const second = await nonceOf(wire);
      check(base64ToBytes(first).length === 32, 'the nonce is not 32 bytes');
      check(first !== second, 'two challenges gave the same nonce');
    },
  },
  {
    id: 'challenge-no-argument',
    section: '10.1',
    says: 'refuses a challenge that carries any argument ({} or null) with MALFORMED_INPUT',
    run: async (f) => {
      const wire = await f.connect();
      expectCode(await wire.request('challenge', {}), 'MALFORMED_INPUT', 'challenge {}');
      expectCode(await wire.request('challenge', null), 'MALFORMED_INPUT', 'challenge null');
    },
  },
  {
    id: 'authenticate-no-challenge',
    section: '9',
    says: 'refuses authenticate before any challenge with NO_CHALLENGE',
    run: async (f) => {
      const wire = await f.connect();
      const proof = bytesToBase64(new Uint8Array(256));
      expectCode(
        await wire.request('authenticate', { identifier: f.alice.identifier, proof }),
        'NO_CHALLENGE',
        'authenticate without challenge',
      );
    },
  },
  {
    id: 'nonce-single-use',
    section: '9',
    says: 'consumes a nonce with one attempt: a failed proof (AUTH_PROOF_INVALID) leaves NO_CHALLENGE',
    run: async (f) => {
      const wire = await f.connect();
      const nonce = await nonceOf(wire);
      const bad = proofFor(f.bob, nonce, f.alice.identifier);
      expectCode(await wire.request('authenticate', bad), 'AUTH_PROOF_INVALID', 'wrong key');
      expectCode(
        await wire.request('authenticate', proofFor(f.alice, nonce)),
        'NO_CHALLENGE',
        'the right proof for a used nonce',
      );
    },
  },
  {
    id: 'authenticate-unknown',
    section: '9',
    says: 'answers authenticate for an unregistered identifier with AUTH_PROOF_INVALID',
    run: async (f) => {
      const wire = await f.connect();
      const nonce = await nonceOf(wire);
      const stranger = unregisteredIdentifier();
      expectCode(
        await wire.request('authenticate', proofFor(f.alice, nonce, stranger)),
        'AUTH_PROOF_INVALID',
        'unregistered identifier',
      );
    },
  },
  {
    id: 'auth-failures-counted',
    section: '9',
    says: 'counts only AUTH_PROOF_INVALID towards the 3 failures (NO_CHALLENGE, shape errors do not)',
    run: async (f) => {
      const wire = await f.connect();
      const zero = bytesToBase64(new Uint8Array(256));
      for (let i = 0; i < 3; i++) {
        expectCode(
          await wire.request('authenticate', { identifier: f.alice.identifier, proof: zero }),
          'NO_CHALLENGE',
          'authenticate without challenge',
        );
        expectCode(await wire.request('authenticate', {}), 'MALFORMED_INPUT', 'empty authenticate');
      }
      for (let i = 0; i < 2; i++)
        expectCode(
          await wire.request('authenticate', await wrongProof(f, wire)),
          'AUTH_PROOF_INVALID',
          `wrong proof ${i + 1}`,
        );
      check(wire.connected, 'closed before the third failed proof');
      await authenticate(wire, f.alice);
    },
  },
  {
    id: 'auth-failures-close',
    section: '9',
    says: 'closes the connection after its third AUTH_PROOF_INVALID',
    run: async (f) => {
      const wire = await f.connect();
      for (let i = 0; i < 3; i++)
        expectCode(
          await wire.request('authenticate', await wrongProof(f, wire)),
          'AUTH_PROOF_INVALID',
          `wrong proof ${i + 1}`,
        );
      await wire.closed();
    },
  },
  {
    id: 'already-authenticated',
    section: '10.1',
    says: 'refuses authenticate on a bound connection with ALREADY_AUTHENTICATED',
    run: async (f) => {
      const nonce = await nonceOf(f.aliceWire);
      expectCode(
        await f.aliceWire.request('authenticate', proofFor(f.alice, nonce)),
        'ALREADY_AUTHENTICATED',
        'second authenticate',
      );
    },
  },
  {
    id: 'not-authenticated',
    section: '10.1',
    says: 'refuses key, send, sync, history and receipt before authentication with NOT_AUTHENTICATED',
    run: async (f) => {
      const wire = await f.connect();
      const requests: [string, unknown][] = [
        ['key', { identifier: f.bob.identifier }],
        ['send', textPacket(f.alice, f.bob, 'too early')],
        ['sync', { after: 0 }],
        ['history', { peer: f.bob.identifier }],
        ['receipt', { upTo: 1 }],
      ];
      for (const [event, payload] of requests)
        expectCode(await wire.request(event, payload), 'NOT_AUTHENTICATED', event);
    },
  },
  {
    id: 'too-many-sockets',
    section: '10.3',
    says: `refuses a connection beyond ${SOCKETS_PER_IDENTIFIER} for one identifier with TOO_MANY_SOCKETS`,
    run: async (f) => {
      const extra: Wire[] = [];
      try {
        // Bob already holds one; fill up to the limit, then one more.
        for (let i = 1; i < SOCKETS_PER_IDENTIFIER; i++) {
          const wire = await f.connect();
          extra.push(wire);
          await authenticate(wire, f.bob);
        }
        const over = await f.connect();
        extra.push(over);
        const nonce = await nonceOf(over);
        expectCode(
          await over.request('authenticate', proofFor(f.bob, nonce)),
          'TOO_MANY_SOCKETS',
          `connection ${SOCKETS_PER_IDENTIFIER + 1}`,
        );
      } finally {
        for (const wire of extra) wire.close();
      }
    },
  },
  {
    id: 'key-lookup',
    section: '10.1',
    says: 'serves a registered public key exactly; an unregistered identifier is UNKNOWN_IDENTIFIER',
    run: async (f) => {
      const { publicKey } = expectOk(
        await f.aliceWire.request('key', { identifier: f.bob.identifier }),
        'key',
      );
      check(publicKey === f.bob.registration.publicKey, 'not the registered key');
      expectCode(
        await f.aliceWire.request('key', { identifier: unregisteredIdentifier() }),
        'UNKNOWN_IDENTIFIER',
        'key of an unregistered identifier',
      );
    },
  },
];
