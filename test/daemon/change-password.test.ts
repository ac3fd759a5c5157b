import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  checkServedCredentials,
  prepareCredentialsChange,
  type PreparedChange,
} from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  bytesToBase64,
  derivePasswordKeys,
  KDF_MIN_ITERATIONS,
  signCredentials,
  loginProofHashHex,
} from '../../src/core/index.js';
import {
  newUser,
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

async function proofOf(user: TestUser, password: string, url = server.url): Promise<string> {
  const kdf = await (await connect(url)).prelogin(user.identifier);
  return bytesToBase64((await derivePasswordKeys(password, user.identifier, kdf)).loginProof);
}

/** Logs in with a password and returns what the relay served. */
async function loginWith(user: TestUser, password: string, url = server.url) {
  const client = await connect(url);
  const kdf = await client.prelogin(user.identifier);
  const proof = bytesToBase64(
    (await derivePasswordKeys(password, user.identifier, kdf)).loginProof,
  );
  return { kdf, proof, served: await client.login(user.identifier, proof) };
}

async function registered(name: string): Promise<TestUser> {
  const user = await newUser(server.url, name, 'the first password');
  opened.push(user.client);
  return user;
}

beforeAll(async () => {
  server = await startTestRelay();
});

afterAll(async () => {
  for (const client of opened) client.close();
  await server.stop();
});

describe('change-password', () => {
  it('replaces salt, KDF, wrap and proof: the old proof fails at once, the new one serves a signed statement', async () => {
    const user = await registered('passwd-user');
    const oldProof = await proofOf(user, 'the first password');
    const change = await prepareCredentialsChange(user, user.password, 'the second password', 0);
    expect(change.kdf.salt).not.toBe(user.kdf.salt);
    await user.client.changePassword(change.request);

    expect(await codeOf(async () => (await connect()).login(user.identifier, oldProof))).toBe(
      'LOGIN_FAILED',
    );
    const { kdf, proof, served } = await loginWith(user, 'the second password');
    expect(kdf).toEqual(change.kdf);
    expect(served.wrappedPrivateKey).toEqual(change.wrappedPrivateKey);
    expect(served.credentials?.generation).toBe(change.generation);
    expect(
      checkServedCredentials(
        {
          identifier: user.identifier,
          publicKey: user.keyPair.publicKey,
          kdf,
          wrappedPrivateKey: served.wrappedPrivateKey,
          loginProof: proof,
          credentials: served.credentials,
        },
        change.generation,
      ),
    ).toBe(change.generation);
    // The same request again: its old proof is no longer the stored one.
    expect(await codeOf(() => user.client.changePassword(change.request))).toBe('LOGIN_FAILED');
  });

  it('keeps the change over a restart of the relay', async () => {
    const relay = await startTestRelay();
    try {
      const client = await RelayClient.connect(relay.url);
      opened.push(client);
      const user = await newUser(relay.url, 'passwd-restart', 'the first password');
      opened.push(user.client);
      const change = await prepareCredentialsChange(user, user.password, 'after restart', 0);
      await user.client.changePassword(change.request);
      await relay.stop(true);
      const again = await startTestRelay({ dataDir: relay.dataDir, port: 0 });
      try {
        const { served } = await loginWith(user, 'after restart', again.url);
        expect(served.credentials?.generation).toBe(change.generation);
        expect(served.wrappedPrivateKey).toEqual(change.wrappedPrivateKey);
      } finally {
        await again.stop();
      }
    } finally {
      await relay.stop().catch(() => undefined);
    }
  });

  it('refuses without an authenticated connection (NOT_AUTHENTICATED)', async () => {
    const user = await registered('passwd-unauth');
    const change = await prepareCredentialsChange(user, user.password, 'never stored', 0);
    expect(await codeOf(async () => (await connect()).changePassword(change.request))).toBe(
      'NOT_AUTHENTICATED',
    );
  });

  it("refuses a change of another account's password (FORBIDDEN_SENDER)", async () => {
    const victim = await registered('passwd-victim');
    const attacker = await registered('passwd-attacker');
    const change = await prepareCredentialsChange(victim, victim.password, 'taken over', 0);
    expect(await codeOf(() => attacker.client.changePassword(change.request))).toBe(
      'FORBIDDEN_SENDER',
    );
    await loginWith(victim, 'the first password');
  });

  it('refuses a wrong current password (LOGIN_FAILED) and changes nothing', async () => {
    const user = await registered('passwd-wrong');
    const change = await prepareCredentialsChange(user, 'not the password', 'whatever new', 0);
    expect(await codeOf(() => user.client.changePassword(change.request))).toBe('LOGIN_FAILED');
    await loginWith(user, 'the first password');
  });

  it('refuses a statement the account key did not sign (CREDENTIALS_SIGNATURE_INVALID)', async () => {
    const user = await registered('passwd-forged');
    const other = await registered('passwd-forger');
    const change = await prepareCredentialsChange(user, user.password, 'forged change', 0);
    const forged: PreparedChange['request'] = {
      ...change.request,
      statement: {
        ...change.request.statement,
        signature: signCredentials(other.keyPair.privateKey, {
          identifier: user.identifier,
          generation: change.generation,
          kdf: change.kdf,
          wrappedPrivateKey: change.wrappedPrivateKey,
          loginProofHash: loginProofHashHex(change.request.loginProof),
          previousProofHash: change.request.statement.previousProofHash,
        }),
      },
    };
    expect(await codeOf(() => user.client.changePassword(forged))).toBe(
      'CREDENTIALS_SIGNATURE_INVALID',
    );
    // A signed statement whose wrap was swapped afterwards fails the same way.
    const swapped = { ...change.request, wrappedPrivateKey: user.wrappedPrivateKey };
    expect(await codeOf(() => user.client.changePassword(swapped))).toBe(
      'CREDENTIALS_SIGNATURE_INVALID',
    );
    await loginWith(user, 'the first password');
  });

  it('refuses KDF parameters below the floor (KDF_BELOW_FLOOR)', async () => {
    const user = await registered('passwd-floor');
    const change = await prepareCredentialsChange(user, user.password, 'cheap to guess', 0);
    const weak = {
      ...change.request,
      kdf: { ...change.kdf, iterations: KDF_MIN_ITERATIONS - 1 },
    };
    expect(await codeOf(() => user.client.changePassword(weak))).toBe('KDF_BELOW_FLOOR');
  });

  if (testStore() === 'postgres') {
    it('takes effect at once on every daemon of the database (no stale cached proof)', async () => {
      const user = await registered('passwd-cluster');
      const peer = await startTestRelay({ dataDir: server.dataDir });
      try {
        // The second daemon has read (and cached) the entry before the change.
        const oldProof = await proofOf(user, 'the first password', peer.url);
        await (await connect(peer.url)).login(user.identifier, oldProof);
        const change = await prepareCredentialsChange(user, user.password, 'cluster wide', 0);
        await user.client.changePassword(change.request);
        expect(
          await codeOf(async () => (await connect(peer.url)).login(user.identifier, oldProof)),
        ).toBe('LOGIN_FAILED');
        const { served } = await loginWith(user, 'cluster wide', peer.url);
        expect(served.credentials?.generation).toBe(change.generation);
      } finally {
        await peer.stop(true);
      }
    });
  }
});
