import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KeyChangedError } from '../../src/cli/cli-errors.js';
import { isWarning, readStored } from '../../src/cli/stream/messages.js';
import { peerKey } from '../../src/cli/profile/peers.js';
import {
  generateKeyPair,
  safetyNumber,
  sealPacket,
  type KeyPair,
  type StoredPacket,
} from '../../src/core/index.js';
import type { TestUser } from '../support/relay-harness.js';
import type { Behaviour } from './hostile-relay.js';
import { sessionOf, startHostileWorld, type HostileWorld } from './hostile-world.js';

let world: HostileWorld;
let mallory: KeyPair;

beforeAll(async () => {
  world = await startHostileWorld();
  mallory = await generateKeyPair();
}, 60_000);

afterAll(async () => {
  await world.stop();
});

/** The relay answers `key` for `victim` with Mallory's public key. */
function substituteKey(victim: string): Behaviour {
  return {
    answer(event, payload) {
      if (event !== 'key' || (payload as { identifier?: unknown }).identifier !== victim) {
        return undefined;
      }
      return { ok: true, publicKey: mallory.publicKey.encoded };
    },
  };
}

/** A packet the relay forges in `from`'s name, signed with Mallory's key. */
function forgedFrom(from: TestUser, to: TestUser, text: string, seq: number): StoredPacket {
  const packet = sealPacket({
    sender: { identifier: from.identifier, keyPair: mallory },
    recipient: { identifier: to.identifier, publicKey: to.keyPair.publicKey },
    body: { v: 1, type: 'text', text },
  });
  return { seq, serverTime: Date.now(), packet };
}

describe('a relay that substitutes a peer’s public key', () => {
  it('is refused at first contact through an identifier#fingerprint address', async () => {
    const session = sessionOf(world.bob, world.hostile.url);
    world.hostile.behave(substituteKey(world.alice.identifier));
    try {
      await expect(
        peerKey(session.client, session.profile, {
          identifier: world.alice.identifier,
          fingerprint: world.alice.keyPair.publicKey.fingerprint,
        }),
      ).rejects.toThrow(/fingerprint is not the one you gave/);
      expect(session.profile.peers[world.alice.identifier]?.publicKey).toBeUndefined();
    } finally {
      world.hostile.behave({});
    }
  });

  it('is refused after pinning, and marked as a changed key until re-verified', async () => {
    const session = sessionOf(world.bob, world.hostile.url);
    const honest = await peerKey(session.client, session.profile, {
      identifier: world.alice.identifier,
    });
    expect(honest.encoded).toBe(world.alice.keyPair.publicKey.encoded);
    world.hostile.behave(substituteKey(world.alice.identifier));
    try {
      const attempt = peerKey(session.client, session.profile, {
        identifier: world.alice.identifier,
      });
      await expect(attempt).rejects.toBeInstanceOf(KeyChangedError);
      await expect(attempt).rejects.toThrow(/changed\. Nothing was sent/);
      expect(session.profile.peers[world.alice.identifier]).toMatchObject({
        publicKey: world.alice.keyPair.publicKey.encoded,
        changedKey: mallory.publicKey.encoded,
      });
    } finally {
      world.hostile.behave({});
    }
  });

  it('cannot make a forged message pass once the real key is pinned (KEY_CHANGED, or SIGNATURE_INVALID)', async () => {
    const session = sessionOf(world.bob, world.hostile.url);
    await peerKey(session.client, session.profile, { identifier: world.alice.identifier });
    const forged = forgedFrom(world.alice, world.bob, 'wire the money to mallory', 999);
    world.hostile.behave(substituteKey(world.alice.identifier));
    try {
      const line = await readStored(session, forged);
      expect(line).toMatchObject({ code: 'KEY_CHANGED' });
      expect(line).not.toHaveProperty('text');
    } finally {
      world.hostile.behave({});
    }
    const withRealKey = await readStored(sessionOf(world.bob, world.hostile.url), forged);
    expect(withRealKey).toMatchObject({ code: 'SIGNATURE_INVALID' });
  });

  it('LIMIT: at first contact without a fingerprint the substituted key is trusted, and only safety numbers reveal it', async () => {
    const session = sessionOf(world.bob, world.hostile.url);
    world.hostile.behave(substituteKey(world.alice.identifier));
    let line;
    try {
      line = await readStored(session, forgedFrom(world.alice, world.bob, 'hi, it is alice', 1000));
    } finally {
      world.hostile.behave({});
    }
    // Trust on first use: the forgery is shown as Alice's, and Mallory's key is pinned for her.
    expect(line).toMatchObject({ text: 'hi, it is alice', from: world.alice.identifier });
    const pinned = session.profile.peers[world.alice.identifier]?.publicKey;
    expect(pinned).toBe(mallory.publicKey.encoded);
    // What Bob's device shows and what Alice's device shows differ: comparing them reveals the attack.
    const bobSees = safetyNumber(
      { identifier: world.bob.identifier, publicKey: world.bob.keyPair.publicKey },
      { identifier: world.alice.identifier, publicKey: mallory.publicKey },
    );
    const aliceSees = safetyNumber(
      { identifier: world.alice.identifier, publicKey: world.alice.keyPair.publicKey },
      { identifier: world.bob.identifier, publicKey: world.bob.keyPair.publicKey },
    );
    expect(bobSees).not.toBe(aliceSees);
    // And the moment the relay stops lying, the pinned (wrong) key no longer matches: KEY_CHANGED.
    const genuine = await readStored(session, {
      seq: 1001,
      serverTime: Date.now(),
      packet: sealPacket({
        sender: { identifier: world.alice.identifier, keyPair: world.alice.keyPair },
        recipient: { identifier: world.bob.identifier, publicKey: world.bob.keyPair.publicKey },
        body: { v: 1, type: 'text', text: 'the real alice' },
      }),
    });
    expect(genuine && isWarning(genuine) && genuine.code).toBe('KEY_CHANGED');
  });
});
