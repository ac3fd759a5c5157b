import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  bytesToBase64,
  generateKeyPair,
  groupEntryHash,
  identifierFromUsername,
  signGroupEntry,
  signKeyRotation,
  importPublicKey,
  type GroupEntry,
  type KeyPair,
} from '../../src/core/index.js';
import type { CliResult } from '../support/cli-process.js';
import { HostileCliWorld, jsonLines } from './cli-world.js';
import type { Behaviour } from './hostile-relay.js';

let world: HostileCliWorld;
let mallory: KeyPair;
const malloryId = identifierFromUsername('mallory');

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-group-attacks-');
  mallory = await generateKeyPair();
  for (const name of ['alice', 'bob', 'carol', 'dave']) await world.register(name);
}, 120_000);

afterAll(async () => {
  await world.stop();
});

/** The error code of a failed `--json` command. */
function codeOf(result: CliResult): string {
  const line = result.stderr.split('\n').find((l) => l.startsWith('{"error"'));
  return String((jsonLines(line ?? '{}')[0]?.['error'] as { code?: string } | undefined)?.code);
}

async function ok(name: string, args: string[]): Promise<Record<string, unknown>> {
  const result = await world.cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout)[0] ?? {};
}

/** Rewrites every `group-log` page served to `target`. */
function rewriteLog(target: string, rewrite: (entries: GroupEntry[]) => GroupEntry[]): Behaviour {
  return {
    reply(event, _payload, response, conn) {
      if (event !== 'group-log' || conn.identifier !== world.id(target)) return response;
      const page = response as { ok: boolean; entries?: GroupEntry[] };
      if (!page.ok || page.entries === undefined) return response;
      return { ...page, entries: rewrite(page.entries), more: false };
    },
    answer(event, payload) {
      // Mallory's key, for the forged entry she signs in her own name.
      if (event === 'key' && (payload as { identifier?: unknown }).identifier === malloryId)
        return { ok: true, publicKey: mallory.publicKey.encoded };
      return undefined;
    },
  };
}

/** An entry after the last served one, signed with Mallory's key in the name of `author`. */
function forgedAfter(entries: GroupEntry[], author: string): GroupEntry {
  const last = entries.at(-1);
  if (last === undefined) throw new Error('nothing served');
  return signGroupEntry(mallory.privateKey, {
    v: 1,
    group: last.group,
    index: last.index + 1,
    prev: groupEntryHash(last),
    author,
    time: Date.now(),
    op: 'add',
    member: malloryId,
    fingerprint: mallory.publicKey.fingerprint,
    metaKey: bytesToBase64(new Uint8Array(256)),
  });
}

/** Another entry in the place of `entry` (same index and previous hash), signed with Mallory's key. */
function forgedAt(entry: GroupEntry): GroupEntry {
  return signGroupEntry(mallory.privateKey, {
    v: 1,
    group: entry.group,
    index: entry.index,
    prev: entry.prev,
    author: malloryId,
    time: Date.now(),
    op: 'leave',
  });
}

describe('a relay that lies about a group log, to the CLI', () => {
  let group = '';

  it('cannot add a member with an extra entry in the admin’s name, nor one in the outsider’s own', async () => {
    group = String((await ok('alice', ['group', 'create', 'team', 'bob', 'carol']))['group']);
    // A first fetch: the forged entry sinks the whole page, nothing is kept.
    world.hostile.behave(rewriteLog('bob', (e) => [...e, forgedAfter(e, world.id('alice'))]));
    const first = await world.cli('bob', ['group', 'members', group, '--json']);
    expect(first.code).toBe(1);
    expect(codeOf(first)).toBe('SIGNATURE_INVALID');
    world.hostile.behave({});
    expect(await ok('bob', ['group', 'members', group])).toMatchObject({ head: 0 });
    // A device that holds the log: the extra entry is refused and the verified head stays.
    world.hostile.behave(rewriteLog('bob', (e) => [...e, forgedAfter(e, malloryId)]));
    const again = await world.cli('bob', ['group', 'members', 'team', '--json']);
    expect(codeOf(again)).toBe('GROUP_NOT_MEMBER');
    world.hostile.behave({});
    const honest = await ok('bob', ['group', 'members', 'team']);
    expect(honest['head']).toBe(0);
    expect((honest['members'] as { id: string }[]).map((m) => m.id)).not.toContain(malloryId);
  }, 120_000);

  it('cannot roll a member’s log back past what it verified, nor fork it', async () => {
    await ok('alice', ['group', 'add', group, 'dave']);
    expect(await ok('bob', ['group', 'members', 'team'])).toMatchObject({ head: 1 });
    world.hostile.behave(rewriteLog('bob', () => []));
    const rolled = await world.cli('bob', ['group', 'members', 'team', '--json']);
    expect(codeOf(rolled)).toBe('GROUP_ROLLBACK');
    // Another entry at a place Bob verified (the relay shows members different logs).
    world.hostile.behave(
      rewriteLog('bob', (e) => e.map((entry) => (entry.index === 1 ? forgedAt(entry) : entry))),
    );
    const forked = await world.cli('bob', ['group', 'members', 'team', '--json']);
    expect(codeOf(forked)).toBe('GROUP_FORKED');
    world.hostile.behave({});
    expect(await ok('bob', ['group', 'members', 'team'])).toMatchObject({ head: 1 });
  }, 120_000);

  it('cannot have a rename encrypted for a member whose key it changed: that member blocks it, named', async () => {
    expect((await world.cli('alice', ['alias', world.id('bob'), 'bobby'])).code).toBe(0);
    world.hostile.behave({
      answer(event, payload) {
        if (event === 'key' && (payload as { identifier?: unknown }).identifier === world.id('bob'))
          return { ok: true, publicKey: mallory.publicKey.encoded };
        return undefined;
      },
    });
    const rename = await world.cli('alice', ['group', 'rename', 'team', 'renamed', '--json']);
    // Nor a new group with that member: the create is never signed.
    const create = await world.cli('alice', ['group', 'create', 'other', 'bobby', '--json']);
    world.hostile.behave({});
    expect(codeOf(create)).toBe('KEY_CHANGED');
    expect(create.stderr).toMatch(/bobby blocks this group change/);
    expect(rename.code).toBe(1);
    expect(codeOf(rename)).toBe('KEY_CHANGED');
    expect(rename.stderr).toMatch(/bobby blocks renaming/);
    expect(await ok('alice', ['group', 'members', 'team'])).toMatchObject({
      head: 1,
      name: 'team',
    });
  }, 120_000);

  it('a key substituted for a newcomer at the admin is found by the newcomer: GROUP_KEY_MISMATCH', async () => {
    const carolsGroup = String((await ok('carol', ['group', 'create', 'side', 'alice']))['group']);
    world.hostile.behave({
      answer(event, payload, conn) {
        if (
          event === 'key' &&
          conn.identifier === world.id('carol') &&
          (payload as { identifier?: unknown }).identifier === world.id('dave')
        )
          return { ok: true, publicKey: mallory.publicKey.encoded };
        return undefined;
      },
    });
    // Carol never met Dave: she pins the key the relay serves, and the add names it.
    await ok('carol', ['group', 'add', 'side', 'dave']);
    world.hostile.behave({});
    const dave = await world.cli('dave', ['group', 'members', carolsGroup, '--json']);
    expect(dave.code).toBe(1);
    expect(codeOf(dave)).toBe('GROUP_KEY_MISMATCH');
    expect(dave.stderr).toMatch(/names another key for you/);
    // Alice pinned Dave's real key when she added him to "team": the log names another one.
    const seen = await ok('alice', ['group', 'members', carolsGroup]);
    const row = (seen['members'] as { id: string; key: string }[]).find(
      (m) => m.id === world.id('dave'),
    );
    expect(row?.key).toBe('mismatch');
  }, 120_000);

  it('cannot pass a made-up key for a member as a rotation of the logged one', async () => {
    await world.register('erin');
    const rotGroup = String(
      (await ok('alice', ['group', 'create', 'rot', 'bob', 'erin']))['group'],
    );
    // Bob's key swapped for Mallory's, with a rotation statement that Bob's key never signed.
    world.hostile.behave({
      reply(event, payload, response) {
        if (event !== 'key' || (payload as { identifier?: unknown }).identifier !== world.id('bob'))
          return response;
        const real = importPublicKey((response as { publicKey: string }).publicKey);
        const forged = signKeyRotation(
          world.id('bob'),
          1,
          Date.now(),
          // Bob's public key beside Mallory's private key: what a forger holds.
          { ...mallory, publicKey: real },
          mallory,
        );
        return { ok: true, publicKey: mallory.publicKey.encoded, rotations: [forged] };
      },
    });
    // Erin never pinned Bob: the made-up chain does not verify, so the logged key does not match.
    const erinSend = await world.cli('erin', ['send', `group:${rotGroup}`, 'hi', '--json']);
    const erinView = await ok('erin', ['group', 'members', rotGroup]);
    // Alice pinned Bob's real key: the chain does not count, a key change as ever.
    const aliceSend = await world.cli('alice', ['send', `group:${rotGroup}`, 'hi', '--json']);
    world.hostile.behave({});
    expect(codeOf(erinSend)).toBe('GROUP_KEY_MISMATCH');
    const row = (erinView['members'] as { id: string; key: string }[]).find(
      (m) => m.id === world.id('bob'),
    );
    expect(row?.key).toBe('mismatch');
    expect(codeOf(aliceSend)).toBe('KEY_CHANGED');
    expect(aliceSend.stderr).toMatch(/ROTATION_OLD_SIGNATURE_INVALID/);
    await ok('alice', ['send', `group:${rotGroup}`, 'hi again']);
  }, 120_000);
});
