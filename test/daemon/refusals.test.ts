import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { generateKeyPairSync, type RSAKeyPairOptions } from 'node:crypto';
import { symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { prepareCredentialsChange, prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import { deleteAccountOnRelay } from '../../src/cli/relay/account-deletion.js';
import {
  base64ToBytes,
  bytesToBase64,
  createAuthProof,
  derivePasswordKeys,
  identifierFromUsername,
  signAccountDeletion,
  RELAY_ERROR_CODES,
  type RelayErrorCode,
} from '../../src/core/index.js';
import {
  newUser,
  sealText,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;
const opened: RelayClient[] = [];

async function connect(): Promise<RelayClient> {
  const client = await RelayClient.connect(server.url);
  opened.push(client);
  return client;
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RelayRefusedError) return error.code;
    throw error;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  server = await startTestRelay({
    limits: { maxSocketsPerIdentifier: 3, loginFailuresPerIdentifier: 3 },
  });
  alice = await newUser(server.url, 'alice');
  bob = await newUser(server.url, 'bob');
});

afterAll(async () => {
  for (const client of [alice.client, bob.client, ...opened]) client.close();
  await server.stop();
});

/** One real way to provoke each relay refusal; the table must cover every code. */
const provoke: Record<RelayErrorCode, () => Promise<unknown>> = {
  NOT_AUTHENTICATED: async () => (await connect()).send(sealText(alice, bob, 'not yet')),
  ALREADY_AUTHENTICATED: () =>
    alice.client.authenticate(alice.identifier, alice.keyPair.privateKey),
  NO_CHALLENGE: async () =>
    (await connect())
      .raw('authenticate', {
        identifier: alice.identifier,
        proof: bytesToBase64(new Uint8Array(256)),
      })
      .then((ack) => {
        const error = (ack as { error?: { code: string; message: string } }).error;
        if (error) throw new RelayRefusedError(error.code, error.message);
      }),
  ALREADY_REGISTERED: async () => {
    const { request } = await prepareRegistration('alice', 'another password');
    return (await connect()).register(request);
  },
  UNKNOWN_IDENTIFIER: () => alice.client.key(identifierFromUsername('nobody')),
  LOGIN_FAILED: async () =>
    (await connect()).login(alice.identifier, bytesToBase64(new Uint8Array(32))),
  RATE_LIMITED: async () => {
    const client = await connect();
    const target = identifierFromUsername('locked-out');
    for (let i = 0; i < 3; i++)
      await codeOf(() => client.login(target, bytesToBase64(new Uint8Array(32))));
    return client.login(target, bytesToBase64(new Uint8Array(32)));
  },
  TOO_MANY_SOCKETS: async () => {
    for (let i = 0; i < 2; i++)
      await (await connect()).authenticate(bob.identifier, bob.keyPair.privateKey);
    return (await connect()).authenticate(bob.identifier, bob.keyPair.privateKey);
  },
  FORBIDDEN_SENDER: () => bob.client.send(sealText(alice, bob, 'bob pretends to be alice')),
  PACKET_ID_TAKEN: async () => {
    const original = sealText(alice, bob, 'original');
    await alice.client.send(original);
    const copy = { ...sealText(bob, alice, 'copy'), id: original.id };
    const { sig: _sig, ...unsigned } = copy;
    const { packetSigningBytes } = await import('../../src/core/index.js');
    const { pssSign } = await import('../../src/core/rsa.js');
    const sig = bytesToBase64(
      pssSign(bob.keyPair.privateKey.keyObject, packetSigningBytes(unsigned)),
    );
    return bob.client.send({ ...unsigned, sig });
  },
  UNKNOWN_EVENT: async () => {
    const ack = await alice.client.raw('launch-missiles', {});
    const error = (ack as { error: { code: string; message: string } }).error;
    throw new RelayRefusedError(error.code, error.message);
  },
  STORE_FAILED: async () => {
    const { relay, user, journal } = await relayWithFullDisk();
    try {
      return await user.client.send(sealText(user, user, 'lost to a full disk'));
    } finally {
      user.client.close();
      await unlink(journal);
      await relay.stop();
    }
  },
  STALE_CREDENTIALS: async () => {
    // Two changes with the same generation: the second is older news than what is stored.
    const user = await newUser(server.url, 'stale-credentials');
    opened.push(user.client);
    const first = await prepareCredentialsChange(user, user.password, 'second password', 0, 1);
    await user.client.changePassword(first.request);
    const moved = { ...user, kdf: first.kdf };
    const second = await prepareCredentialsChange(moved, 'second password', 'third password', 0, 1);
    return user.client.changePassword(second.request);
  },
  QUOTA_EXCEEDED: async () => {
    const relay = await startTestRelay({ storage: { quotaPackets: 1 } });
    const user = await newUser(relay.url, 'quota-one');
    try {
      await user.client.send(sealText(user, user, 'the one allowed'));
      return await user.client.send(sealText(user, user, 'one too many'));
    } finally {
      user.client.close();
      await relay.stop();
    }
  },
  ACCOUNT_DELETED: async () => {
    const gone = await newUser(server.url, 'deleted-account');
    await deleteAccountOnRelay(gone.client, gone, gone.password);
    return alice.client.key(gone.identifier);
  },
  IDENTIFIER_RETIRED: async () => {
    const gone = await newUser(server.url, 'retired-name');
    await deleteAccountOnRelay(gone.client, gone, gone.password);
    const { request } = await prepareRegistration('retired-name', 'another password');
    return (await connect()).register(request);
  },
  DELETION_NONCE_MISMATCH: async () => {
    const stale = await alice.client.challenge();
    await alice.client.challenge();
    const keys = await derivePasswordKeys(alice.password, alice.identifier, alice.kdf);
    return alice.client.deleteAccount({
      identifier: alice.identifier,
      loginProof: bytesToBase64(keys.loginProof),
      statement: signAccountDeletion(alice.identifier, stale, Date.now(), alice.keyPair),
    });
  },
  STORAGE_FULL: async () => {
    // A floor above any disk there is: every new packet is refused before a byte is written.
    const relay = await startTestRelay({ storage: { minFreeBytes: 2 ** 52 } });
    const user = await newUser(relay.url, 'floor-user');
    try {
      return await user.client.send(sealText(user, user, 'no room'));
    } finally {
      user.client.close();
      await relay.stop();
    }
  },
};

describe('every relay refusal is an error acknowledgement with its own code', () => {
  it.each([...RELAY_ERROR_CODES])('%s', async (code) => {
    expect(await codeOf(provoke[code])).toBe(code);
  });
});

/**
 * A relay whose next journal write hits a real ENOSPC: the open segment's journal is a link to
 * /dev/full, which the kernel refuses every write to, as a full disk would.
 */
async function relayWithFullDisk(): Promise<{ relay: TestRelay; user: TestUser; journal: string }> {
  const relay = await startTestRelay();
  const user = await newUser(relay.url, 'diskfull');
  const journal = join(relay.dataDir, 'segments', '00000000.journal');
  await symlink('/dev/full', journal);
  return { relay, user, journal };
}

describe('after a failed write', () => {
  it('stays up, acknowledges nothing, and stores the same packet once the disk has room again', async () => {
    const { relay, user, journal } = await relayWithFullDisk();
    const packet = sealText(user, user, 'retry me');
    expect(await codeOf(() => user.client.send(packet))).toBe('STORE_FAILED');
    expect((await user.client.sync(0)).packets).toHaveLength(0);
    expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
    await unlink(journal);
    const ack = await user.client.send(packet);
    expect(ack).toMatchObject({ seq: 1, duplicate: false });
    expect(packetsOf((await user.client.sync(0)).packets).map((p) => p.packet.id)).toEqual([
      packet.id,
    ]);
    user.client.close();
    await relay.stop();
  });
});

describe('limits under concurrency', () => {
  it('lets no more wrong logins through than the limit, even all at once', async () => {
    const client = await connect();
    const target = identifierFromUsername('concurrent-target');
    const codes = await Promise.all(
      Array.from({ length: 20 }, () =>
        codeOf(() => client.login(target, bytesToBase64(new Uint8Array(32)))),
      ),
    );
    expect(codes.filter((code) => code === 'LOGIN_FAILED').length).toBeLessThanOrEqual(3);
    expect(codes.filter((code) => code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(17);
  });

  it('limits registrations per address, so reconnecting does not reset the count', async () => {
    const relay = await startTestRelay({ limits: { registrationsPerAddressPerHour: 2 } });
    const codes: string[] = [];
    for (const name of ['reg-one', 'reg-two', 'reg-three']) {
      const client = await RelayClient.connect(relay.url);
      const { request } = await prepareRegistration(name, 'correct horse battery');
      codes.push(
        await client.register(request).then(
          () => 'ok',
          (e: unknown) => (e as RelayRefusedError).code,
        ),
      );
      client.close();
    }
    await relay.stop();
    expect(codes).toEqual(['ok', 'ok', 'RATE_LIMITED']);
  });

  it('refuses a resend of a packet id with different content as PACKET_ID_TAKEN', async () => {
    const original = sealText(alice, bob, 'first version');
    await alice.client.send(original);
    const { packetSigningBytes } = await import('../../src/core/index.js');
    const { pssSign } = await import('../../src/core/rsa.js');
    const changed = { ...sealText(alice, bob, 'second version'), id: original.id };
    const { sig: _old, ...unsigned } = changed;
    const sig = bytesToBase64(
      pssSign(alice.keyPair.privateKey.keyObject, packetSigningBytes(unsigned)),
    );
    expect(await codeOf(() => alice.client.send({ ...unsigned, sig }))).toBe('PACKET_ID_TAKEN');
  });
});

describe('refusals that use core codes', () => {
  it('refuses a forged signature with SIGNATURE_INVALID and stores nothing', async () => {
    const packet = sealText(alice, bob, 'real');
    const sig = base64ToBytes(packet.sig);
    sig[5] = (sig[5] ?? 0) ^ 1;
    const before = (await bob.client.sync(0, 500)).packets.length;
    expect(await codeOf(() => alice.client.send({ ...packet, sig: bytesToBase64(sig) }))).toBe(
      'SIGNATURE_INVALID',
    );
    expect((await bob.client.sync(0, 500)).packets.length).toBe(before);
  });

  it('refuses an auth proof for another identifier with AUTH_PROOF_INVALID', async () => {
    const client = await connect();
    const { nonce } = (await client.raw('challenge')) as { nonce: string };
    const proof = createAuthProof(bob.keyPair.privateKey, bob.identifier, nonce);
    const ack = (await client.raw('authenticate', { identifier: alice.identifier, proof })) as {
      error: { code: string };
    };
    expect(ack.error.code).toBe('AUTH_PROOF_INVALID');
  });

  it('refuses weak KDF parameters at registration with KDF_BELOW_FLOOR', async () => {
    const { request } = await prepareRegistration('weakling', 'correct horse battery');
    const client = await connect();
    expect(
      await codeOf(() =>
        client.register({ ...request, kdf: { ...request.kdf, iterations: 1000 } }),
      ),
    ).toBe('KDF_BELOW_FLOOR');
  });

  it('refuses every public key that is not 294 bytes with INVALID_KEY, whatever its length', async () => {
    const { request } = await prepareRegistration('wrong-key-size', 'correct horse battery');
    const spki = (type: 'rsa' | 'ec', options: object): Buffer =>
      generateKeyPairSync(type as 'rsa', options as RSAKeyPairOptions<'der', 'der'>).publicKey;
    const der = { publicKeyEncoding: { type: 'spki', format: 'der' } };
    const good = Buffer.from(base64ToBytes(request.publicKey));
    const keys = {
      rsa3072: spki('rsa', { modulusLength: 3072, ...der }),
      exponent3: spki('rsa', { modulusLength: 2048, publicExponent: 3, ...der }),
      ec: spki('ec', { namedCurve: 'P-256', ...der }),
      trailingByte: Buffer.concat([good, Buffer.of(0)]),
      lastByteMissing: good.subarray(0, good.length - 1),
      empty: Buffer.alloc(0),
    };
    const client = await connect();
    const codes: Record<string, string> = {};
    for (const [name, key] of Object.entries(keys)) {
      codes[name] = await codeOf(() =>
        client.register({ ...request, publicKey: bytesToBase64(key) }),
      );
    }
    expect(codes).toEqual(Object.fromEntries(Object.keys(keys).map((k) => [k, 'INVALID_KEY'])));
    // Only text too long to be any key is refused unread, as OVERSIZE.
    expect(await codeOf(() => client.register({ ...request, publicKey: 'A'.repeat(1028) }))).toBe(
      'OVERSIZE',
    );
  });

  it('refuses a browser origin by default (CORS closed)', async () => {
    const socket = io(server.url, {
      transports: ['polling'],
      extraHeaders: { origin: 'https://evil.example' },
      reconnection: false,
    });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('connect', () => resolve('connected'));
      socket.once('connect_error', () => resolve('refused'));
    });
    socket.close();
    expect(outcome).toBe('refused');
  });
});
