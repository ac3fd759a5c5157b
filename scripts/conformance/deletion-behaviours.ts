import { randomBytes } from 'node:crypto';
import {
  bytesToBase64,
  deletionResultSchema,
  signAccountDeletion,
  verifyAccountDeletion,
  type KeyPair,
} from '../../src/core/index.js';
import {
  authenticate,
  newUser,
  resigned,
  textPacket,
  type Behaviour,
  type User,
} from './fixtures.js';
import { check, expectCode, expectOk, Violation, type Wire } from './wire.js';

/** A delete-account request of `user` over `nonce`, with the given proof and signing key. */
function deletion(user: User, nonce: string, proof: string, signer: KeyPair = user.keyPair) {
  return {
    identifier: user.identifier,
    loginProof: proof,
    statement: signAccountDeletion(user.identifier, nonce, Date.now(), signer),
  };
}

/** A fresh challenge of an authenticated connection. */
async function challenge(wire: Wire): Promise<string> {
  const { nonce } = expectOk(await wire.request('challenge'), 'challenge');
  check(typeof nonce === 'string', 'challenge answered without a nonce');
  return nonce;
}

/** Account deletion (section 5c). Registers one throwaway user (and tries its name again). */
export const DELETION_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'delete-account',
    section: '5c',
    says: 'refuses a deletion without challenge, over another nonce, with a wrong proof or signature (NO_CHALLENGE, DELETION_NONCE_MISMATCH, LOGIN_FAILED, DELETION_SIGNATURE_INVALID, NOT_AUTHENTICATED); a valid one answers {}, closes the connection, serves the tombstone, and the name is ACCOUNT_DELETED, IDENTIFIER_RETIRED',
    run: async (f) => {
      const dora = await newUser('dora');
      expectOk(await (await f.connect()).request('register', dora.registration), 'register');
      const wire = await f.connect();
      await authenticate(wire, dora);
      const proof = dora.registration.loginProof;
      const otherNonce = () => bytesToBase64(randomBytes(32));
      const wrong: string[] = [];
      const expect = async (what: string, request: unknown, code: string, on = wire) => {
        const answer = await on.request('delete-account', request);
        const got = answer.ok ? 'accepted' : answer.code;
        if (got !== code) wrong.push(`${what}: ${got}, expected ${code}`);
      };
      await expect('no challenge', deletion(dora, otherNonce(), proof), 'NO_CHALLENGE');
      await challenge(wire);
      await expect('another nonce', deletion(dora, otherNonce(), proof), 'DELETION_NONCE_MISMATCH');
      const wrongProof = bytesToBase64(randomBytes(32));
      await expect(
        'wrong proof',
        deletion(dora, await challenge(wire), wrongProof),
        'LOGIN_FAILED',
      );
      await expect(
        "signed by Alice's key",
        deletion(dora, await challenge(wire), proof, f.alice.keyPair),
        'DELETION_SIGNATURE_INVALID',
      );
      await expect(
        'not authenticated',
        deletion(dora, otherNonce(), proof),
        'NOT_AUTHENTICATED',
        await f.connect(),
      );
      if (wrong.length > 0) throw new Violation(wrong.join('; '));
      const alive = expectOk(
        await f.aliceWire.request('key', { identifier: dora.identifier }),
        'key',
      );
      check(alive['publicKey'] === dora.registration.publicKey, 'a refused deletion deleted');

      const nonce = await challenge(wire);
      const result = expectOk(
        await wire.request('delete-account', deletion(dora, nonce, proof)),
        'delete-account',
      );
      check(Object.keys(result).length === 0, 'the result of delete-account is not {}');
      await wire.closed();

      expectCode(
        await f.aliceWire.request('key', { identifier: dora.identifier }),
        'ACCOUNT_DELETED',
        'key of the deleted account',
      );
      const toDora = resigned(
        { ...textPacket(f.alice, f.bob, 'to dora'), to: dora.identifier },
        f.alice,
      );
      expectCode(
        await f.aliceWire.request('send', toDora),
        'ACCOUNT_DELETED',
        'send to the deleted account',
      );
      const tombstone = deletionResultSchema.safeParse(
        expectOk(
          await f.aliceWire.request('deletion', { identifier: dora.identifier }),
          'deletion',
        ),
      );
      check(tombstone.success, 'deletion does not answer {publicKey, deletedAt, statement}');
      check(
        tombstone.data.publicKey === dora.registration.publicKey,
        'deletion does not serve the deleted key',
      );
      try {
        verifyAccountDeletion(dora.keyPair.publicKey, dora.identifier, tombstone.data.statement);
      } catch {
        throw new Violation('deletion serves a statement the account key did not sign');
      }
      const fresh = await f.connect();
      expectCode(
        await fresh.request('login', { identifier: dora.identifier, loginProof: proof }),
        'LOGIN_FAILED',
        'login to the deleted account',
      );
      expectCode(
        await fresh.request('register', dora.registration),
        'IDENTIFIER_RETIRED',
        'register the deleted name again',
      );
    },
  },
];
