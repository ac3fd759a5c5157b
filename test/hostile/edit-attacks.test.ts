import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  importPublicKey,
  sealPacket,
  type Body,
  type KeyPair,
  type Packet,
  type StoredPacket,
} from '../../src/core/index.js';
import { loadProfile } from '../../src/cli/profile/profile.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { unlock } from '../../src/cli/relay/session.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';
import { rewriteStream } from './tampering.js';

/** The red `!!` line the CLI writes on stderr for every refused change. */
const RED = '\u001b[31m!! ';
let world: HostileCliWorld;
const keyPairs: Record<string, KeyPair> = {};
const id = (name: string): string => world.id(name);

/** Runs a `--json` command that must succeed and returns its lines. */
async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await world.cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

async function send(from: string, to: string, text: string): Promise<string> {
  const [out] = await ok(from, ['send', to, text]);
  return String(out?.['id']);
}

/**
 * Seals `body` as `from` (its real key: a hostile peer, or a faulty client of the sender) and has
 * the real relay store it, bypassing the CLI's own checks.
 */
async function sendRaw(from: string, to: string, body: Body): Promise<Packet> {
  const keyPair = keyPairs[from];
  const recipient = keyPairs[to];
  if (keyPair === undefined || recipient === undefined) throw new Error('unknown party');
  const packet = sealPacket({
    sender: { identifier: id(from), keyPair },
    recipient: {
      identifier: id(to),
      publicKey: importPublicKey(recipient.publicKey.encoded),
    },
    body,
  });
  const client = await RelayClient.connect(world.real.url);
  try {
    await client.authenticate(id(from), keyPair.privateKey);
    await client.send(packet);
  } finally {
    client.close();
  }
  return packet;
}

/** The message lines (not warnings) of `history <peer> --json`, as [id, text, edited, deleted]. */
function shown(lines: Record<string, unknown>[]): unknown[][] {
  return lines
    .filter((line) => 'text' in line)
    .map((line) => [line['id'], line['text'], line['edited'] ?? false, line['deleted'] ?? false]);
}

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-edit-attacks-');
  for (const name of ['alice', 'bob', 'carol']) {
    await world.register(name);
    const account = await unlock(await loadProfile(world.home(name)), HOSTILE_CLI_PASSWORD);
    keyPairs[name] = account.keyPair;
  }
}, 120_000);

afterAll(async () => {
  await world.stop();
});

describe('edits and deletes against a hostile peer and relay', () => {
  let owed = '';

  it("a peer's edit or delete of alice's message is refused with its code, and nothing changes", async () => {
    owed = await send('alice', 'bob', 'I owe bob 10 euros');
    await ok('bob', ['history', 'alice']);
    await sendRaw('bob', 'alice', {
      v: 1,
      type: 'edit',
      target: owed,
      text: 'I owe bob 1000 euros',
    });
    await sendRaw('bob', 'alice', { v: 1, type: 'delete', target: owed });
    for (const name of ['alice', 'bob']) {
      const peer = name === 'alice' ? 'bob' : 'alice';
      const result = await world.cli(name, ['history', peer, '--json']);
      expect(result.code).toBe(0);
      const lines = jsonLines(result.stdout);
      expect(shown(lines)).toEqual([[owed, 'I owe bob 10 euros', false, false]]);
      expect(lines.filter((line) => 'warning' in line).map((line) => line['code'])).toEqual([
        'EDIT_FORBIDDEN',
        'EDIT_FORBIDDEN',
      ]);
      expect(result.stderr).toContain(RED);
      expect(result.stderr).toMatch(/only its sender may change it/);
      expect(result.stdout).not.toContain('1000');
    }
    expect(await ok('alice', ['search', '1000'])).toEqual([]);
  });

  it('an edit naming a message of another conversation is refused (EDIT_CONVERSATION_MISMATCH)', async () => {
    const note = await send('alice', 'alice', 'note to self: the safe code is 1234');
    // A faulty client of alice's names her note to self in the conversation with bob.
    await sendRaw('alice', 'bob', { v: 1, type: 'edit', target: note, text: 'rewritten' });
    const lines = await ok('alice', ['history', 'bob']);
    expect(shown(lines)).toEqual([[owed, 'I owe bob 10 euros', false, false]]);
    expect(lines.filter((line) => 'warning' in line).map((line) => line['code'])).toContain(
      'EDIT_CONVERSATION_MISMATCH',
    );
    expect(shown(await ok('alice', ['history', 'alice']))).toEqual([
      [note, 'note to self: the safe code is 1234', false, false],
    ]);
    // Bob does not hold the note: the edit changes nothing he shows.
    const bobs = await ok('bob', ['history', 'alice']);
    expect(shown(bobs)).toEqual([[owed, 'I owe bob 10 euros', false, false]]);
    expect(JSON.stringify(bobs)).not.toContain('rewritten');
  });

  it("the relay replaying alice's genuine edit into another conversation changes nothing there", async () => {
    const forCarol = await send('alice', 'carol', 'lunch on friday?');
    const [edit] = await ok('alice', ['edit', 'bob', owed, 'I owe bob 12 euros']);
    const editId = String(edit?.['id']);
    expect(shown(await ok('bob', ['history', 'alice']))).toEqual([
      [owed, 'I owe bob 12 euros', true, false],
    ]);
    // The relay takes the signed edit (alice to bob) and serves it in carol's and in alice's
    // conversation with carol.
    let captured: StoredPacket | undefined;
    world.hostile.behave(
      rewriteStream(id('bob'), (packets) => {
        captured ??= packets.find((stored) => stored.packet.id === editId);
        return packets;
      }),
    );
    await ok('bob', ['history', 'alice']);
    expect(captured).toBeDefined();
    const replayed = captured as StoredPacket;
    for (const victim of ['carol', 'alice']) {
      world.hostile.behave(
        rewriteStream(id(victim), (packets, route) =>
          route === 'history' ? [...packets, { ...replayed, seq: replayed.seq + 1_000 }] : packets,
        ),
      );
      const peer = victim === 'carol' ? 'alice' : 'carol';
      const result = await world.cli(victim, ['history', peer, '--json']);
      const lines = jsonLines(result.stdout);
      expect(shown(lines)).toEqual([[forCarol, 'lunch on friday?', false, false]]);
      expect(lines.filter((line) => 'warning' in line).length).toBeGreaterThan(0);
    }
    world.hostile.behave({});
    // Replayed again into bob's own conversation: still the one edit, the same text.
    world.hostile.behave(
      rewriteStream(id('bob'), (packets, route) =>
        route === 'history' ? [...packets, { ...replayed, seq: replayed.seq + 2_000 }] : packets,
      ),
    );
    expect(shown(await ok('bob', ['history', 'alice']))).toEqual([
      [owed, 'I owe bob 12 euros', true, false],
    ]);
    world.hostile.behave({});
  });
});
