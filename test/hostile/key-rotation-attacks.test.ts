import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bytesToBase64,
  generateKeyPair,
  importPublicKey,
  LABELS,
  rotationSigningBytes,
  type KeyPair,
  type KeyRotation,
} from '../../src/core/index.js';
import { pssSign } from '../../src/core/rsa.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import { newUser } from '../support/relay-harness.js';
import type { Behaviour } from './hostile-relay.js';
import { HostileCliWorld } from './cli-world.js';

// A relay that lies about a key rotation: the real CLI, as child processes, must refuse every key
// that no valid chain of rotation statements leads to from the key it pinned: KEY_CHANGED, nothing sent.

let world: HostileCliWorld;
let mallory: KeyPair;
/** A user of the real relay who looks keys up as they really are. */
let observer: RelayClient;

interface PeerPin {
  publicKey?: string;
  changedKey?: string;
  rotation?: number;
}

async function pinOf(name: string, peer: string): Promise<PeerPin | undefined> {
  const profile = await world.profile<{ peers: Record<string, PeerPin> }>(name);
  return profile.peers[world.id(peer)];
}

/** A relay that answers `key` for one identifier with a key and chain of its choosing. */
function serveKey(identifier: string, publicKey: string, rotations?: KeyRotation[]): Behaviour {
  return {
    reply(event, payload, response) {
      if (event !== 'key' || (payload as { identifier?: unknown }).identifier !== identifier)
        return response;
      return { ok: true, publicKey, ...(rotations === undefined ? {} : { rotations }) };
    },
  };
}

/** Sends as `name` to `peer` through the misbehaving relay; the result and whether a send left. */
async function sendThrough(behaviour: Behaviour, name: string, peer: string, text: string) {
  world.hostile.behave(behaviour);
  const before = world.hostile.requests.length;
  try {
    const result = await world.cli(name, ['send', world.id(peer), text]);
    const sent = world.hostile.requests.slice(before).some((r) => r.event === 'send');
    return { result, sent };
  } finally {
    world.hostile.behave({});
  }
}

/** The key and rotation chain the real relay serves for a user. */
function realKey(name: string): Promise<{ publicKey: string; rotations: KeyRotation[] }> {
  return observer.lookup(world.id(name));
}

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-rotation-attacks-');
  mallory = await generateKeyPair();
  observer = (await newUser(world.real.url, 'observer')).client;
  await world.register('alice');
  await world.register('bob');
  expect((await world.cli('alice', ['send', world.id('bob'), 'hello bob'])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  observer.close();
  await world.stop();
});

describe('a hostile relay and key rotation', () => {
  it('a key swapped in with a forged rotation statement (not signed by the pinned key) is KEY_CHANGED', async () => {
    const pinned = importPublicKey((await pinOf('alice', 'bob'))?.publicKey);
    // Every field right, the new key's signature valid: only the pinned key's signature is Mallory's.
    const fields = {
      identifier: world.id('bob'),
      counter: 1,
      time: Date.now(),
      oldKey: pinned,
      newKey: mallory.publicKey,
    };
    const sign = (label: typeof LABELS.keyRotationOld | typeof LABELS.keyRotationNew) =>
      bytesToBase64(pssSign(mallory.privateKey.keyObject, rotationSigningBytes(label, fields)));
    const statement: KeyRotation = {
      identifier: fields.identifier,
      counter: fields.counter,
      time: fields.time,
      oldKey: pinned.encoded,
      newKey: mallory.publicKey.encoded,
      oldSignature: sign(LABELS.keyRotationOld),
      newSignature: sign(LABELS.keyRotationNew),
    };
    const { result, sent } = await sendThrough(
      serveKey(world.id('bob'), mallory.publicKey.encoded, [statement]),
      'alice',
      'bob',
      'must not reach mallory',
    );
    expect(sent).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/key of .* changed\. Nothing was sent/);
    expect(result.stderr).toMatch(/ROTATION_OLD_SIGNATURE_INVALID/);
    expect(result.stderr).not.toMatch(/replaced their key/);
    const pin = await pinOf('alice', 'bob');
    expect(pin?.publicKey).toBe(pinned.encoded);
    expect(pin?.changedKey).toBe(mallory.publicKey.encoded);
  }, 60_000);

  it('a real rotation whose statement the relay drops is KEY_CHANGED; served with it, it is followed', async () => {
    expect((await world.cli('bob', ['rotate-key'])).code).toBe(0);
    const real = await realKey('bob');
    expect(real.rotations).toHaveLength(1);
    const dropped = await sendThrough(
      serveKey(world.id('bob'), real.publicKey),
      'alice',
      'bob',
      'must wait for a verified key',
    );
    expect(dropped.sent).toBe(false);
    expect(dropped.result.code).toBe(1);
    expect(dropped.result.stderr).toMatch(/key of .* changed\. Nothing was sent/);
    expect(dropped.result.stderr).not.toMatch(/replaced their key/);

    // The honest answer carries the chain: the same key is now followed, and said so.
    const honest = await world.cli('alice', ['send', world.id('bob'), 'to the new key']);
    expect(honest.code).toBe(0);
    expect(honest.stderr).toMatch(/replaced their key \(signed by their previous key\)/);
    const pin = await pinOf('alice', 'bob');
    expect(pin?.publicKey).toBe(real.publicKey);
    expect(pin?.changedKey).toBeUndefined();
    expect(pin?.rotation).toBe(1);
  }, 120_000);

  it('the old statement replayed beside a key of the relay’s choosing is KEY_CHANGED', async () => {
    const real = await realKey('bob');
    const { result, sent } = await sendThrough(
      serveKey(world.id('bob'), mallory.publicKey.encoded, real.rotations),
      'alice',
      'bob',
      'must not reach mallory',
    );
    expect(sent).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/key of .* changed\. Nothing was sent/);
    expect(result.stderr).toMatch(/ROTATION_CHAIN_BROKEN/);
    expect((await pinOf('alice', 'bob'))?.publicKey).toBe(real.publicKey);
  }, 60_000);

  it('the key Bob replaced, served again (the chain rolled back), is KEY_CHANGED', async () => {
    const real = await realKey('bob');
    const old = real.rotations[0]?.oldKey ?? '';
    const { result, sent } = await sendThrough(
      serveKey(world.id('bob'), old, []),
      'alice',
      'bob',
      'must not go to the replaced key',
    );
    expect(sent).toBe(false);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/key of .* changed\. Nothing was sent/);
    expect(result.stderr).toMatch(/ROTATION_ROLLED_BACK/);
    expect((await pinOf('alice', 'bob'))?.publicKey).toBe(real.publicKey);
  }, 60_000);
});
