import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deleteAccountOnRelay } from '../../src/cli/relay/account-deletion.js';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import {
  bytesToBase64,
  derivePasswordKeys,
  signAccountDeletion,
  verifyAccountDeletion,
  type DeleteAccountRequest,
} from '../../src/core/index.js';
import {
  newUser,
  sealText,
  secondDevice,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { storedState } from '../support/stored-state.js';
import { refusalCode } from '../support/refusal-code.js';
import { testStore } from '../support/test-store.js';
import { packetsOf } from '../support/records.js';

let server: TestRelay;
const opened: RelayClient[] = [];

async function connect(url = server.url): Promise<RelayClient> {
  const client = await RelayClient.connect(url);
  opened.push(client);
  return client;
}

/** The refusal code of a request; an answered one reads `answered`, which no test expects. */
const codeOf = (run: () => Promise<unknown>): Promise<string> => refusalCode(run, 'answered');

async function registered(name: string, url = server.url): Promise<TestUser> {
  const user = await newUser(url, name);
  opened.push(user.client);
  return user;
}

/** Resolves once the relay closed the client's connection (fails the test after 5 s). */
function closedByRelay(client: RelayClient): Promise<void> {
  if (!client.socket.connected) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the relay left the connection open')), 5_000);
    client.socket.once('disconnect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A deletion request of `user` over `nonce`, signed by `signer` for `identifier` (both default to the user's). */
async function request(
  user: TestUser,
  nonce: string,
  options: { password?: string; signer?: TestUser; identifier?: string } = {},
): Promise<DeleteAccountRequest> {
  const keys = await derivePasswordKeys(
    options.password ?? user.password,
    user.identifier,
    user.kdf,
  );
  const signer = options.signer ?? user;
  return {
    identifier: user.identifier,
    loginProof: bytesToBase64(keys.loginProof),
    statement: signAccountDeletion(
      options.identifier ?? user.identifier,
      nonce,
      Date.now(),
      signer.keyPair,
    ),
  };
}

beforeAll(async () => {
  server = await startTestRelay({ limits: { loginFailuresPerIdentifier: 3 } });
});

afterAll(async () => {
  for (const client of opened) client.close();
  await server.stop();
});

describe('delete-account', () => {
  it('deletes the account, closes every device, and refuses it everywhere after; what peers received stays', async () => {
    const bob = await registered('delete-bob');
    const alice = await registered('delete-alice');
    await alice.client.send(sealText(alice, bob, 'hello bob'));
    await bob.client.send(sealText(bob, alice, 'hello alice'));
    await bob.client.receipt(2);
    const other = await secondDevice(server.url, bob);
    opened.push(other);
    const presence: boolean[] = [];
    alice.client.on('presence', (update) => {
      if (update.identifier === bob.identifier) presence.push(update.online);
    });
    expect((await storedState(server.dataDir)).cursors).toContain(bob.identifier);

    await deleteAccountOnRelay(bob.client, bob, bob.password);
    await Promise.all([closedByRelay(other), closedByRelay(bob.client)]);

    const state = await storedState(server.dataDir);
    expect(state.users).not.toContain(bob.identifier);
    expect(state.presence).not.toContain(bob.identifier);
    expect(state.cursors).not.toContain(bob.identifier);
    expect(presence.at(-1)).toBe(false);

    const keys = await derivePasswordKeys(bob.password, bob.identifier, bob.kdf);
    const device = await connect();
    expect(await codeOf(() => device.login(bob.identifier, bytesToBase64(keys.loginProof)))).toBe(
      'LOGIN_FAILED',
    );
    expect(await codeOf(() => device.authenticate(bob.identifier, bob.keyPair.privateKey))).toBe(
      'AUTH_PROOF_INVALID',
    );
    expect(await codeOf(() => alice.client.key(bob.identifier))).toBe('ACCOUNT_DELETED');
    expect(await codeOf(() => alice.client.send(sealText(alice, bob, 'are you there?')))).toBe(
      'ACCOUNT_DELETED',
    );
    const again = await prepareRegistration('delete-bob', 'a brand new password');
    expect(await codeOf(async () => (await connect()).register(again.request))).toBe(
      'IDENTIFIER_RETIRED',
    );
    // The tombstone is served: the statement Bob's key signed, checkable under the key Alice pinned.
    const tombstone = await alice.client.deletion(bob.identifier);
    expect(tombstone.publicKey).toBe(bob.keyPair.publicKey.encoded);
    // Only the day of the deletion: the relay's clock at it is nobody's business.
    expect(tombstone.deletedAt % 86_400_000).toBe(0);
    expect(Date.now() - tombstone.deletedAt).toBeLessThan(2 * 86_400_000);
    expect(
      verifyAccountDeletion(bob.keyPair.publicKey, bob.identifier, tombstone.statement).nonce,
    ).toBe(tombstone.statement.nonce);
    expect(await codeOf(() => alice.client.deletion(alice.identifier))).toBe('UNKNOWN_IDENTIFIER');
    expect(await codeOf(() => device.deletion(bob.identifier))).toBe('NOT_AUTHENTICATED');
    // Alice's copy of the conversation is hers: both packets stay in her stream and history.
    const history = await alice.client.history(bob.identifier);
    expect(packetsOf(history.packets).map((p) => p.packet.from)).toEqual([
      alice.identifier,
      bob.identifier,
    ]);
  });

  it('refuses each request that does not hold with its own code, and deletes nothing', async () => {
    const carol = await registered('delete-carol');
    const dave = await registered('delete-dave');
    const fresh = await connect();
    expect(
      await codeOf(() =>
        fresh.deleteAccount({ ...placeholder(carol), identifier: carol.identifier }),
      ),
    ).toBe('NOT_AUTHENTICATED');
    // authenticate spent the connection's nonce: there is no challenge to sign.
    expect(await codeOf(async () => carol.client.deleteAccount(await request(carol, nonce0)))).toBe(
      'NO_CHALLENGE',
    );
    const first = await carol.client.challenge();
    const old = await request(carol, first);
    await carol.client.challenge();
    expect(await codeOf(() => carol.client.deleteAccount(old))).toBe('DELETION_NONCE_MISMATCH');
    // A statement is good once: the attempt spent the nonce, so the same one again has none.
    expect(await codeOf(() => carol.client.deleteAccount(old))).toBe('NO_CHALLENGE');
    // Signed on one connection, replayed on another: another challenge.
    const otherDevice = await secondDevice(server.url, carol);
    opened.push(otherDevice);
    await otherDevice.challenge();
    expect(await codeOf(() => otherDevice.deleteAccount(old))).toBe('DELETION_NONCE_MISMATCH');

    const forDave = await carol.client.challenge();
    expect(
      await codeOf(async () =>
        carol.client.deleteAccount(await request(dave, forDave, { signer: carol })),
      ),
    ).toBe('FORBIDDEN_SENDER');
    const wrong = await carol.client.challenge();
    expect(
      await codeOf(async () =>
        carol.client.deleteAccount(await request(carol, wrong, { password: 'not the password' })),
      ),
    ).toBe('LOGIN_FAILED');
    // Another key's signature, and the owner's signature made for another identifier.
    const forged = await carol.client.challenge();
    expect(
      await codeOf(async () =>
        carol.client.deleteAccount(await request(carol, forged, { signer: dave })),
      ),
    ).toBe('DELETION_SIGNATURE_INVALID');
    const elsewhere = await carol.client.challenge();
    expect(
      await codeOf(async () =>
        carol.client.deleteAccount(
          await request(carol, elsewhere, { identifier: dave.identifier }),
        ),
      ),
    ).toBe('DELETION_SIGNATURE_INVALID');
    expect(
      await codeOf(() =>
        carol.client.raw('delete-account', { identifier: carol.identifier }).then((ack) => {
          const error = (ack as { error?: { code: string; message: string } }).error;
          if (error) throw new RelayRefusedError(error.code, error.message);
        }),
      ),
    ).toBe('MALFORMED_INPUT');

    // Nothing was deleted: both accounts are served and log in.
    expect(await dave.client.key(carol.identifier)).toBe(carol.keyPair.publicKey.encoded);
    expect(await carol.client.key(dave.identifier)).toBe(dave.keyPair.publicKey.encoded);
    const keys = await derivePasswordKeys(carol.password, carol.identifier, carol.kdf);
    await (await connect()).login(carol.identifier, bytesToBase64(keys.loginProof));
  });

  it('counts wrong passwords against the login lockout (RATE_LIMITED)', async () => {
    const erin = await registered('delete-erin');
    for (let i = 0; i < 3; i++) {
      const nonce = await erin.client.challenge();
      expect(
        await codeOf(async () =>
          erin.client.deleteAccount(await request(erin, nonce, { password: `guess ${String(i)}` })),
        ),
      ).toBe('LOGIN_FAILED');
    }
    const nonce = await erin.client.challenge();
    expect(await codeOf(async () => erin.client.deleteAccount(await request(erin, nonce)))).toBe(
      'RATE_LIMITED',
    );
    expect(await erin.client.key(erin.identifier)).toBe(erin.keyPair.publicKey.encoded);
  });

  it('keeps only what the owner signed: the statement binds the identifier, the challenge, the time and the key', async () => {
    const frank = await registered('delete-frank');
    const other = await registered('delete-other');
    const nonce = await frank.client.challenge();
    const signed = await request(frank, nonce);
    const key = frank.keyPair.publicKey;
    expect(verifyAccountDeletion(key, frank.identifier, signed.statement)).toEqual(
      signed.statement,
    );
    const altered = [
      () => verifyAccountDeletion(key, other.identifier, signed.statement),
      () =>
        verifyAccountDeletion(key, frank.identifier, {
          ...signed.statement,
          nonce: bytesToBase64(new Uint8Array(32)),
        }),
      () =>
        verifyAccountDeletion(key, frank.identifier, {
          ...signed.statement,
          time: signed.statement.time + 1,
        }),
      () => verifyAccountDeletion(other.keyPair.publicKey, frank.identifier, signed.statement),
    ];
    for (const check of altered)
      expect(check).toThrow(expect.objectContaining({ code: 'DELETION_SIGNATURE_INVALID' }));
    await frank.client.deleteAccount(signed);
  });

  it('keeps the tombstone over a restart of the relay', async () => {
    const relay = await startTestRelay();
    try {
      const user = await registered('delete-restart', relay.url);
      await deleteAccountOnRelay(user.client, user, user.password);
      await relay.stop(true);
      const again = await startTestRelay({ dataDir: relay.dataDir });
      try {
        const registration = await prepareRegistration('delete-restart', 'a brand new password');
        expect(
          await codeOf(async () => (await connect(again.url)).register(registration.request)),
        ).toBe('IDENTIFIER_RETIRED');
        const peer = await registered('delete-restart-peer', again.url);
        expect(await codeOf(() => peer.client.key(user.identifier))).toBe('ACCOUNT_DELETED');
      } finally {
        await again.stop();
      }
    } finally {
      await relay.stop().catch(() => undefined);
    }
  });

  it('lets the identifier be registered again once its retirement has passed', async () => {
    const relay = await startTestRelay({ limits: { retirementMs: 1 } });
    try {
      const user = await registered('delete-expired', relay.url);
      await deleteAccountOnRelay(user.client, user, user.password);
      await new Promise((resolve) => setTimeout(resolve, 10));
      const registration = await prepareRegistration('delete-expired', 'a brand new password');
      await (await connect(relay.url)).register(registration.request);
      const peer = await registered('delete-expired-peer', relay.url);
      expect(await peer.client.key(user.identifier)).toBe(
        registration.account.keyPair.publicKey.encoded,
      );
    } finally {
      await relay.stop();
    }
  });

  if (testStore() === 'lowdb') {
    it('finishes at start a deletion a crash interrupted after the tombstone (the commit point) was written', async () => {
      const relay = await startTestRelay();
      let restarted: TestRelay | undefined;
      try {
        const hank = await registered('delete-hank', relay.url);
        const ivy = await registered('delete-ivy', relay.url);
        await ivy.client.send(sealText(ivy, hank, 'hello hank'));
        await hank.client.receipt(1);
        hank.client.close();
        ivy.client.close();
        await relay.stop(true);
        const before = await storedState(relay.dataDir);
        expect(before.users).toContain(hank.identifier);
        expect(before.cursors).toContain(hank.identifier);
        expect(before.presence).toContain(hank.identifier);

        // The state a crash leaves between the tombstone's write and the key file's removal.
        const keys = join(relay.dataDir, 'keys');
        const now = Date.now();
        const nonce = bytesToBase64(randomBytes(32));
        const tombstone = {
          identifier: hank.identifier,
          publicKey: hank.keyPair.publicKey.encoded,
          deletion: signAccountDeletion(hank.identifier, nonce, now, hank.keyPair),
          deletedAt: now,
          retiredUntil: now + 365 * 24 * 3_600_000,
        };
        await mkdir(join(keys, 'retired'), { recursive: true });
        await writeFile(
          join(keys, 'retired', `${hank.identifier}.json`),
          JSON.stringify(tombstone),
        );
        await writeFile(join(keys, 'retired', '.tmp-1-torn'), '{"torn');

        const again = await startTestRelay({ dataDir: relay.dataDir });
        restarted = again;
        const after = await storedState(relay.dataDir);
        expect(after.users).not.toContain(hank.identifier);
        expect(after.users).toContain(ivy.identifier);
        expect(after.cursors).not.toContain(hank.identifier);
        expect(after.presence).not.toContain(hank.identifier);
        expect(await readdir(join(keys, 'retired'))).toEqual([`${hank.identifier}.json`]);
        const peer = await registered('delete-hank-peer', again.url);
        expect(await codeOf(() => peer.client.key(hank.identifier))).toBe('ACCOUNT_DELETED');
        expect((await peer.client.deletion(hank.identifier)).statement).toEqual(tombstone.deletion);
        const keysOfHank = await derivePasswordKeys(hank.password, hank.identifier, hank.kdf);
        const device = await connect(again.url);
        expect(
          await codeOf(() => device.login(hank.identifier, bytesToBase64(keysOfHank.loginProof))),
        ).toBe('LOGIN_FAILED');
        const registration = await prepareRegistration('delete-hank', 'a brand new password');
        expect(
          await codeOf(async () => (await connect(again.url)).register(registration.request)),
        ).toBe('IDENTIFIER_RETIRED');
      } finally {
        await restarted?.stop();
        await relay.stop().catch(() => undefined);
      }
    });
  }

  if (testStore() === 'postgres') {
    it('takes effect on every daemon of the database: sockets closed there, a cached key no longer takes sends', async () => {
      const gina = await registered('delete-gina');
      const peer = await startTestRelay({ dataDir: server.dataDir });
      try {
        const there = await secondDevice(peer.url, gina);
        opened.push(there);
        const henry = await registered('delete-henry', peer.url);
        // The second daemon caches gina's key with a first send.
        await henry.client.send(sealText(henry, gina, 'before'));
        await deleteAccountOnRelay(gina.client, gina, gina.password);
        await closedByRelay(there);
        // The other daemon hears of the deletion over the database's NOTIFY link: give it a moment.
        let code = '';
        for (let i = 0; i < 50 && code !== 'ACCOUNT_DELETED'; i++) {
          code = await henry.client.send(sealText(henry, gina, 'after')).then(
            () => 'stored',
            (error: unknown) => (error as RelayRefusedError).code,
          );
          if (code !== 'ACCOUNT_DELETED') await new Promise((resolve) => setTimeout(resolve, 100));
        }
        expect(code).toBe('ACCOUNT_DELETED');
      } finally {
        await peer.stop(true);
      }
    });
  }
});

/** The nonce an authenticated connection no longer holds (any value: it is refused before use). */
const nonce0 = bytesToBase64(new Uint8Array(32).fill(7));

/** A well-formed request for a connection that may not make one at all. */
function placeholder(user: TestUser): DeleteAccountRequest {
  return {
    identifier: user.identifier,
    loginProof: bytesToBase64(new Uint8Array(32)),
    statement: signAccountDeletion(user.identifier, nonce0, 1, user.keyPair),
  };
}
