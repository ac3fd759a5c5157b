import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { bytesToBase64, type PresenceUpdate } from '../../src/core/index.js';
import { DEFAULT_LIMITS, type RelayLimits } from '../../src/daemon/config.js';
import { startRelay, type Relay } from '../../src/daemon/relay.js';
import { DEFAULT_STORAGE_LIMITS } from '../../src/daemon/storage-limits.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { newUser, sealText, secondDevice, type TestUser } from '../support/relay-harness.js';
import { refusalCode as codeOf } from '../support/refusal-code.js';

// Two daemons in this process on one database: what is counted per identifier is counted once.
let server: PostgresServer;
const relays: Relay[] = [];
const clients: RelayClient[] = [];
const WRONG = bytesToBase64(new Uint8Array(32));

const LIMITS: RelayLimits = {
  ...DEFAULT_LIMITS,
  maxSocketsPerIdentifier: 3,
  loginFailuresPerAddress: 1e6,
  loginFailuresPerConnection: 1e6,
};

async function daemonOn(url: string): Promise<Relay> {
  const relay = await startRelay(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: '/nonexistent',
      postgresUrl: url,
      logLevel: 'silent',
      allowedOrigins: [],
      trustProxy: [],
      limits: LIMITS,
      storage: DEFAULT_STORAGE_LIMITS,
    },
    pino({ level: 'silent' }),
  );
  relays.push(relay);
  return relay;
}

let a: Relay;
let b: Relay;

beforeAll(async () => {
  server = await startPostgres();
  const url = await server.createDatabase();
  a = await daemonOn(url);
  b = await daemonOn(url);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const relay of relays) await relay.close();
  await server.stop();
});

async function user(relay: Relay, name: string): Promise<TestUser> {
  const made = await newUser(relay.url, name);
  clients.push(made.client);
  return made;
}

async function connect(relay: Relay): Promise<RelayClient> {
  const client = await RelayClient.connect(relay.url);
  clients.push(client);
  return client;
}

/** Waits (bounded) until `seen` holds an update matching `online`, and resolves to it. */
async function presenceOf(
  seen: PresenceUpdate[],
  identifier: string,
  online: boolean,
  ms = 30_000,
): Promise<PresenceUpdate> {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = seen.findLast((p) => p.identifier === identifier);
    if (found?.online === online) return found;
    if (Date.now() > deadline)
      throw new Error(`no presence online=${String(online)}; saw ${JSON.stringify(seen)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('limits and presence shared by two daemons on one database', () => {
  it('counts failed logins on daemon A against the same identifier on daemon B', async () => {
    const victim = await user(a, 'shared-victim');
    const onA = await connect(a);
    const onB = await connect(b);
    const codes: string[] = [];
    for (let i = 0; i < LIMITS.loginFailuresPerIdentifier; i++)
      codes.push(await codeOf(() => (i % 2 === 0 ? onA : onB).login(victim.identifier, WRONG)));
    expect(codes).toEqual(
      Array.from({ length: LIMITS.loginFailuresPerIdentifier }, () => 'LOGIN_FAILED'),
    );
    expect(await codeOf(() => onB.login(victim.identifier, WRONG))).toBe('RATE_LIMITED');
    expect(await codeOf(() => onA.login(victim.identifier, WRONG))).toBe('RATE_LIMITED');
    // Concurrent guesses through both daemons at once: none is even compared.
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        codeOf(() => (i % 2 === 0 ? onA : onB).login(victim.identifier, WRONG)),
      ),
    );
    expect(new Set(burst)).toEqual(new Set(['RATE_LIMITED']));
  }, 60_000);

  it('lets concurrent guesses through both daemons past the limit not one more time', async () => {
    const victim = await user(b, 'shared-burst');
    const onA = await connect(a);
    const onB = await connect(b);
    const burst = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        codeOf(() => (i % 2 === 0 ? onA : onB).login(victim.identifier, WRONG)),
      ),
    );
    expect(burst.filter((code) => code === 'LOGIN_FAILED')).toHaveLength(
      LIMITS.loginFailuresPerIdentifier,
    );
    expect(burst.filter((code) => code === 'RATE_LIMITED')).toHaveLength(
      30 - LIMITS.loginFailuresPerIdentifier,
    );
  }, 60_000);

  it('holds a user to its socket cap across both daemons', async () => {
    const carol = await user(a, 'shared-carol');
    const second = await secondDevice(b.url, carol);
    clients.push(second);
    const third = await secondDevice(a.url, carol);
    clients.push(third);
    const refused = await codeOf(async () => {
      const fourth = await secondDevice(b.url, carol);
      clients.push(fourth);
    });
    expect(refused).toBe('TOO_MANY_SOCKETS');
    // Concurrent claims through both daemons: exactly one takes the place a closed device freed.
    third.close();
    const deadline = Date.now() + 20_000;
    let codes: string[] = [];
    while (Date.now() < deadline) {
      codes = await Promise.all(
        [a, b, a, b].map((relay) =>
          codeOf(async () => {
            const device = await secondDevice(relay.url, carol);
            clients.push(device);
          }),
        ),
      );
      if (codes.includes('ok')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(codes.filter((code) => code === 'ok')).toHaveLength(1);
    expect(codes.filter((code) => code === 'TOO_MANY_SOCKETS')).toHaveLength(3);
  }, 60_000);

  it('shows a user on daemon B online and offline to its peer on daemon A', async () => {
    const alice = await user(a, 'shared-alice');
    const bob = await user(b, 'shared-bob');
    const seen: PresenceUpdate[] = [];
    alice.client.on('presence', (update) => seen.push(update));
    await alice.client.send(sealText(alice, bob, 'hi'));
    await bob.client.send(sealText(bob, alice, 'hello'));
    await presenceOf(seen, bob.identifier, true);
    // Bob's second device on A, then his first (on B) goes: he is still online.
    const bobOnA = await secondDevice(a.url, bob);
    clients.push(bobOnA);
    bob.client.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(seen.findLast((p) => p.identifier === bob.identifier)?.online).toBe(true);
    bobOnA.close();
    await presenceOf(seen, bob.identifier, false);
    // Back on B: online again for alice on A.
    const bobBack = await secondDevice(b.url, bob);
    clients.push(bobBack);
    await presenceOf(seen, bob.identifier, true);
  }, 60_000);
});
