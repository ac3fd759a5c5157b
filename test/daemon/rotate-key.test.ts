import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loginAccount, prepareCredentialsChange } from '../../src/cli/relay/account.js';
import {
  prepareKeyRotation,
  type PreparedRotation,
} from '../../src/cli/relay/key-rotation-change.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { openWithMyKeys } from '../../src/cli/stream/open-with-keys.js';
import {
  followRotations,
  generateKeyPair,
  importPublicKey,
  MAX_KEPT_ROTATIONS,
  signCredentials,
  signKeyRotation,
  type KeyPair,
} from '../../src/core/index.js';
import type { Account } from '../../src/cli/relay/account.js';
import {
  newUser,
  sealText,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { refusalCode } from '../support/refusal-code.js';
import { testStore } from '../support/test-store.js';

let server: TestRelay;
const opened: RelayClient[] = [];

async function connect(url = server.url): Promise<RelayClient> {
  const client = await RelayClient.connect(url);
  opened.push(client);
  return client;
}

/** The refusal code of a request; an answered one reads `answered`, which no test expects. */
const codeOf = (run: () => Promise<unknown>): Promise<string> => refusalCode(run, 'answered');

async function registered(name: string): Promise<TestUser> {
  const user = await newUser(server.url, name, 'the first password');
  opened.push(user.client);
  return user;
}

/** The account as it is after a rotation the relay took. */
function rotated(account: Account, prepared: PreparedRotation): Account {
  return {
    ...account,
    keyPair: prepared.keyPair,
    wrappedPrivateKey: prepared.wrappedPrivateKey,
    credentialsGeneration: prepared.generation,
    replacedKeys: prepared.replacedKeys,
  };
}

/** A rotation of `user` (counter `after` + 1) with the new key pair given, prepared and sent. */
async function rotate(user: Account, client: RelayClient, after = 0, newPair?: KeyPair) {
  const prepared = await prepareKeyRotation(
    user,
    'the first password',
    after,
    user.credentialsGeneration ?? 0,
    Date.now(),
    newPair,
  );
  await client.rotateKey(prepared.request);
  return { prepared, account: rotated(user, prepared) };
}

let spare: KeyPair[] = [];

beforeAll(async () => {
  server = await startTestRelay();
  spare = await Promise.all(Array.from({ length: 12 }, () => generateKeyPair()));
});

afterAll(async () => {
  for (const client of opened) client.close();
  await server.stop();
});

describe('rotate-key', () => {
  it('serves the new key with its chain; the old key no longer authenticates; replaced keys stay readable', async () => {
    const bob = await registered('rotate-bob');
    const alice = await registered('rotate-alice');
    const before = sealText(alice, bob, 'sealed to the old key');
    await alice.client.send(before);
    const { prepared, account } = await rotate(bob, bob.client, 0, spare[0]);

    const served = await alice.client.lookup(bob.identifier);
    expect(served.publicKey).toBe(prepared.keyPair.publicKey.encoded);
    expect(served.rotations).toEqual([prepared.request.rotation]);
    const followed = followRotations(
      bob.identifier,
      bob.keyPair.publicKey,
      prepared.keyPair.publicKey,
      served.rotations,
    );
    expect(followed.steps.map((step) => step.counter)).toEqual([1]);

    // The old key is refused, the new one authenticates, and sends signed by it are taken.
    const oldDevice = await connect();
    expect(await codeOf(() => oldDevice.authenticate(bob.identifier, bob.keyPair.privateKey))).toBe(
      'AUTH_PROOF_INVALID',
    );
    const newDevice = await connect();
    await newDevice.authenticate(bob.identifier, prepared.keyPair.privateKey);
    await newDevice.send(sealText(account, alice, 'signed by the new key'));
    expect(await codeOf(() => newDevice.send(sealText(bob, alice, 'signed by the old key')))).toBe(
      'SIGNATURE_INVALID',
    );

    // A new device logs in with the password and gets the replaced key, which opens old packets.
    const relogged = await loginAccount(await connect(), 'rotate-bob', 'the first password');
    expect(relogged.keyPair.publicKey.encoded).toBe(prepared.keyPair.publicKey.encoded);
    expect(relogged.replacedKeys?.map((key) => key.keyPair.publicKey.encoded)).toEqual([
      bob.keyPair.publicKey.encoded,
    ]);
    const opened = openWithMyKeys(relogged, before, {
      identifier: alice.identifier,
      publicKey: alice.keyPair.publicKey,
    });
    expect(opened.body).toEqual({ v: 1, type: 'text', text: 'sealed to the old key' });
  });

  it('chains rotations and keeps at most MAX_KEPT_ROTATIONS replaced keys and statements', async () => {
    let account: Account = await registered('rotate-many');
    const client = await connect();
    await client.authenticate(account.identifier, account.keyPair.privateKey);
    const first = account.keyPair.publicKey;
    for (let n = 0; n <= MAX_KEPT_ROTATIONS; n++) {
      const pair = spare[1 + n];
      ({ account } = await rotate(account, client, n, pair));
    }
    const served = await client.lookup(account.identifier);
    expect(served.rotations.map((r) => r.counter)).toEqual(
      Array.from({ length: MAX_KEPT_ROTATIONS }, (_, i) => i + 2),
    );
    // Followable from any key still in the window; the first key fell out of it.
    const second = served.rotations[0]?.oldKey ?? '';
    expect(
      followRotations(
        account.identifier,
        importPublicKey(second),
        account.keyPair.publicKey,
        served.rotations,
      ).steps,
    ).toHaveLength(MAX_KEPT_ROTATIONS);
    expect(() =>
      followRotations(account.identifier, first, account.keyPair.publicKey, served.rotations),
    ).toThrow(expect.objectContaining({ code: 'ROTATION_CHAIN_BROKEN' }));
    const relogged = await loginAccount(await connect(), 'rotate-many', 'the first password');
    expect(relogged.replacedKeys).toHaveLength(MAX_KEPT_ROTATIONS);
  });

  it('passwd after a rotation wraps the replaced keys again; without them it is STALE_CREDENTIALS', async () => {
    const user = await registered('rotate-passwd');
    const { account } = await rotate(user, user.client, 0);
    const client = await connect();
    await client.authenticate(account.identifier, account.keyPair.privateKey);
    const change = await prepareCredentialsChange(
      account,
      'the first password',
      'the second password',
      account.credentialsGeneration ?? 0,
    );
    const { replacedKeys: _dropped, ...without } = change.request;
    expect(await codeOf(() => client.changePassword(without))).toBe('STALE_CREDENTIALS');
    await client.changePassword(change.request);
    const relogged = await loginAccount(await connect(), 'rotate-passwd', 'the second password');
    expect(relogged.replacedKeys?.map((key) => key.keyPair.publicKey.encoded)).toEqual([
      user.keyPair.publicKey.encoded,
    ]);
  });

  it('refuses statements that do not hold, each with its own code, and changes nothing', async () => {
    const user = await registered('rotate-refused');
    const other = await registered('rotate-other');
    const prepared = await prepareKeyRotation(user, 'the first password', 0, 0);
    const request = prepared.request;
    const { rotation } = request;
    const send = (changed: object) => user.client.rotateKey({ ...request, ...changed });

    expect(
      await codeOf(() => send({ rotation: { ...rotation, oldSignature: rotation.newSignature } })),
    ).toBe('ROTATION_OLD_SIGNATURE_INVALID');
    expect(
      await codeOf(() => send({ rotation: { ...rotation, newSignature: rotation.oldSignature } })),
    ).toBe('ROTATION_NEW_SIGNATURE_INVALID');
    const forOther = signKeyRotation(other.identifier, 1, 1, user.keyPair, prepared.keyPair);
    expect(await codeOf(() => send({ rotation: forOther }))).toBe('ROTATION_IDENTIFIER_MISMATCH');
    const skipped = signKeyRotation(user.identifier, 2, 1, user.keyPair, prepared.keyPair);
    expect(await codeOf(() => send({ rotation: skipped }))).toBe('ROTATION_CHAIN_BROKEN');
    expect(await codeOf(() => send({ publicKey: other.keyPair.publicKey.encoded }))).toBe(
      'ROTATION_CHAIN_BROKEN',
    );
    const oldSigned = signCredentials(user.keyPair.privateKey, {
      identifier: user.identifier,
      generation: prepared.generation,
      kdf: user.kdf,
      wrappedPrivateKey: prepared.wrappedPrivateKey,
      loginProofHash: request.credentials.previousProofHash,
      previousProofHash: request.credentials.previousProofHash,
    });
    expect(
      await codeOf(() => send({ credentials: { ...request.credentials, signature: oldSigned } })),
    ).toBe('CREDENTIALS_SIGNATURE_INVALID');
    const wrong = await prepareKeyRotation(user, 'not the password', 0, 0);
    expect(await codeOf(() => user.client.rotateKey(wrong.request))).toBe('LOGIN_FAILED');
    expect(await codeOf(() => other.client.rotateKey(request))).toBe('FORBIDDEN_SENDER');
    expect(await codeOf(async () => (await connect()).rotateKey(request))).toBe(
      'NOT_AUTHENTICATED',
    );
    // Nothing of it was stored.
    expect(await other.client.lookup(user.identifier)).toEqual({
      publicKey: user.keyPair.publicKey.encoded,
      rotations: [],
    });

    // The real one passes; replaying it, or a second one from the replaced key, does not.
    await user.client.rotateKey(request);
    const moved = rotated(user, prepared);
    const replay = await prepareKeyRotation(moved, 'the first password', 0, prepared.generation);
    expect(await codeOf(() => user.client.rotateKey(replay.request))).toBe('ROTATION_ROLLED_BACK');
    const fromOld = await prepareKeyRotation(user, 'the first password', 1, prepared.generation);
    expect(await codeOf(() => user.client.rotateKey(fromOld.request))).toBe('STALE_CREDENTIALS');
  });

  it('keeps the rotation over a restart of the relay', async () => {
    const relay = await startTestRelay();
    try {
      const user = await newUser(relay.url, 'rotate-restart', 'the first password');
      opened.push(user.client);
      const { prepared } = await rotate(user, user.client, 0, spare[11]);
      await relay.stop(true);
      const again = await startTestRelay({ dataDir: relay.dataDir, port: 0 });
      try {
        const client = await connect(again.url);
        await client.authenticate(user.identifier, prepared.keyPair.privateKey);
        expect((await client.lookup(user.identifier)).rotations).toEqual([
          prepared.request.rotation,
        ]);
      } finally {
        await again.stop();
      }
    } finally {
      await relay.stop().catch(() => undefined);
    }
  });

  if (testStore() === 'postgres') {
    it('takes effect on every daemon of the database (a cached old key is read again)', async () => {
      const user = await registered('rotate-cluster');
      const peer = await startTestRelay({ dataDir: server.dataDir });
      try {
        // The second daemon caches the old key first.
        const before = await connect(peer.url);
        await before.authenticate(user.identifier, user.keyPair.privateKey);
        const { prepared, account } = await rotate(user, user.client, 0);
        const after = await connect(peer.url);
        await after.authenticate(user.identifier, prepared.keyPair.privateKey);
        await after.send(sealText(account, account, 'note to self, new key'));
        const stale = await connect(peer.url);
        expect(
          await codeOf(() => stale.authenticate(user.identifier, user.keyPair.privateKey)),
        ).toBe('AUTH_PROOF_INVALID');
      } finally {
        await peer.stop(true);
      }
    });
  }
});
