import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loginAccount } from '../../src/cli/relay/account.js';
import { RelayClient, RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import {
  base64ToBytes,
  bytesToBase64,
  identifierFromUsername,
  systemRandom,
  type DeliveredNotice,
  type Packet,
  type PresenceUpdate,
} from '../../src/core/index.js';
import { sealText, secondDevice } from '../support/relay-harness.js';
import { startHostileWorld, type HostileWorld } from './hostile-world.js';

/**
 * What the relay can do or learn that no client can detect: each test pins a line of
 * docs/threat-model.md ("not defended") to behaviour, so the document cannot drift from the code.
 */
let world: HostileWorld;

beforeAll(async () => {
  world = await startHostileWorld();
}, 60_000);

afterAll(async () => {
  await world.stop();
});

function sentPackets(): Packet[] {
  return world.hostile.requests.flatMap((request) =>
    request.event === 'send' ? [request.payload as Packet] : [],
  );
}

describe('limits: what a relay learns or fakes undetectably', () => {
  it('sees who talks to whom, when, and roughly how much, but not the text', async () => {
    const text = 'x'.repeat(3000);
    const packet = sealText(world.alice, world.bob, text);
    await world.alice.client.send(packet);
    const seen = sentPackets().find((sent) => sent.id === packet.id);
    expect(seen).toMatchObject({ from: world.alice.identifier, to: world.bob.identifier });
    expect(Math.abs((seen?.time ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(base64ToBytes(seen?.ct ?? '').length).toBeGreaterThan(3000);
    expect(JSON.stringify(seen)).not.toContain('xxxxxxxx');
  });

  it('recovers a guessable username from its identifier by trying names', () => {
    const guesses = ['admin', 'root', 'bob', 'alice', 'carol'];
    const from = sentPackets()[0]?.from;
    expect(guesses.find((name) => identifierFromUsername(name) === from)).toBe('alice');
  });

  it('tells anyone, without logging in, whether a username is registered', async () => {
    const stranger = await RelayClient.connect(world.real.url);
    try {
      await expect(
        stranger.register({
          identifier: identifierFromUsername('alice'),
          publicKey: world.carol.keyPair.publicKey.encoded,
          wrappedPrivateKey: world.carol.wrappedPrivateKey,
          kdf: world.carol.kdf,
          loginProof: bytesToBase64(systemRandom(32)),
        }),
      ).rejects.toMatchObject({ code: 'ALREADY_REGISTERED' });
      await expect(stranger.raw('key', { identifier: 'f'.repeat(64) })).resolves.toMatchObject({
        ok: false,
        error: { code: 'NOT_AUTHENTICATED' },
      });
    } finally {
      stranger.close();
    }
    await expect(world.alice.client.key('f'.repeat(64))).rejects.toBeInstanceOf(RelayRefusedError);
  });

  it('fakes presence and delivery receipts: they are the relay’s word, not the peer’s', async () => {
    const device = await secondDevice(world.hostile.url, world.bob);
    try {
      const presence: PresenceUpdate[] = [];
      const delivered: DeliveredNotice[] = [];
      device.on('presence', (update) => presence.push(update));
      device.on('delivered', (notice) => delivered.push(notice));
      const fakeId = '0'.repeat(32);
      for (const conn of world.hostile.connectionsOf(world.bob.identifier)) {
        conn.push('presence', { identifier: world.alice.identifier, online: true, lastSeen: 1 });
        conn.push('delivered', { id: fakeId, to: world.alice.identifier, seq: 1 });
      }
      for (let i = 0; i < 100 && delivered.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(presence).toContainEqual({
        identifier: world.alice.identifier,
        online: true,
        lastSeen: 1,
      });
      expect(delivered).toContainEqual({ id: fakeId, to: world.alice.identifier, seq: 1 });
    } finally {
      device.close();
    }
  });

  it('keeps the login proof it saw: replayed, it fetches the wrapped key again (without TLS, so can a network observer)', async () => {
    const client = await RelayClient.connect(world.hostile.url);
    const before = world.hostile.requests.length;
    try {
      await loginAccount(client, 'bob', world.bob.password);
    } finally {
      client.close();
    }
    const login = world.hostile.requests.slice(before).find((request) => request.event === 'login')
      ?.payload as { identifier: string; loginProof: string };
    const thief = await RelayClient.connect(world.real.url);
    try {
      const stolen = await thief.login(login.identifier, login.loginProof);
      expect(stolen.wrappedPrivateKey).toEqual(world.bob.wrappedPrivateKey);
    } finally {
      thief.close();
    }
  }, 30_000);
});
