import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  createGroupEntry,
  generateKeyPair,
  groupHead,
  identifierFromUsername,
  sealGroupMessage,
  type GroupLog,
  type GroupPacket,
  type KeyPair,
  type PublicKey,
  type StreamRecord,
  type VerifiedGroupEntry,
} from '../../src/core/index.js';
import { heldGroupLog } from '../../src/cli/profile/group-store.js';
import { loadProfile, saveProfile } from '../../src/cli/profile/profile.js';
import { MAX_PROFILE_GROUPS } from '../../src/cli/profile/profile-schema.js';
import { unlock } from '../../src/cli/relay/session.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';
import type { Behaviour } from './hostile-relay.js';

let world: HostileCliWorld;
let mallory: KeyPair;
const malloryId = identifierFromUsername('mallory');
const keyPairs: Record<string, KeyPair> = {};
const publicKeys = new Map<string, PublicKey>();

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-group-message-attacks-');
  mallory = await generateKeyPair();
  for (const name of ['alice', 'bob', 'carol']) {
    await world.register(name);
    const account = await unlock(await loadProfile(world.home(name)), HOSTILE_CLI_PASSWORD);
    keyPairs[name] = account.keyPair;
    publicKeys.set(world.id(name), account.keyPair.publicKey);
  }
  publicKeys.set(malloryId, mallory.publicKey);
}, 180_000);

afterAll(async () => {
  await world.stop();
});

async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await world.cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

/** The log Bob's device verified (his profile's). */
async function bobsLog(group: string): Promise<GroupLog> {
  const log = heldGroupLog(await loadProfile(world.home('bob')), group);
  if (log === null) throw new Error('bob holds no log');
  return log;
}

/** A message sealed and signed by `sender` for `head` (any state, real or invented). */
function sealFor(
  sender: { identifier: string; keyPair: KeyPair },
  head: VerifiedGroupEntry,
  text: string,
): GroupPacket {
  const key = (id: string) => {
    const found = publicKeys.get(id);
    if (found === undefined) throw new Error(`no key for ${id}`);
    return found;
  };
  return sealGroupMessage({
    sender,
    log: { group: head.group, entries: [head] },
    keyOf: key,
    body: { v: 1, type: 'text', text },
  });
}

function as(name: string) {
  const keyPair = keyPairs[name];
  if (keyPair === undefined) throw new Error(name);
  return { identifier: world.id(name), keyPair };
}

/**
 * Appends `message` to every `history` page of `group` (or every `sync` page) served to Bob, after
 * the last record, as if the relay had stored it there; Mallory's key is served for her.
 */
function inject(event: 'history' | 'sync', group: string, message: GroupPacket): Behaviour {
  return {
    reply(name, payload, response, conn) {
      if (name !== event || conn.identifier !== world.id('bob')) return response;
      if (event === 'history' && (payload as { group?: unknown }).group !== group) return response;
      const page = response as { ok: boolean; packets?: StreamRecord[]; more?: boolean };
      if (!page.ok || page.packets === undefined || page.more === true) return response;
      const seq = (page.packets.at(-1)?.seq ?? 0) + 1;
      const record = { seq, serverTime: Date.now(), groupMessage: message };
      return { ...page, packets: [...page.packets, record] };
    },
    answer(name, payload) {
      if (name === 'key' && (payload as { identifier?: unknown }).identifier === malloryId)
        return { ok: true, publicKey: mallory.publicKey.encoded };
      return undefined;
    },
  };
}

/** Bob's `history group:<group> --json` with the relay behaving as told: its lines. */
async function bobReads(group: string, behaviour: Behaviour): Promise<Record<string, unknown>[]> {
  world.hostile.behave(behaviour);
  try {
    return await ok('bob', ['history', `group:${group}`]);
  } finally {
    world.hostile.behave({});
  }
}

function texts(lines: Record<string, unknown>[]): unknown[] {
  return lines.filter((l) => 'text' in l).map((l) => l['text']);
}

function codes(lines: Record<string, unknown>[]): unknown[] {
  return lines.filter((l) => 'code' in l).map((l) => l['code']);
}

describe('a relay that forges or misplaces group messages, to the CLI', () => {
  let group = '';

  it('cannot pass off a message from a non-member: GROUP_NOT_MEMBER, nothing shown or pinned', async () => {
    const [created] = await ok('alice', ['group', 'create', 'team', 'bob', 'carol']);
    group = String(created?.['group']);
    await ok('alice', ['send', `group:${group}`, 'the real one']);
    expect(texts(await ok('bob', ['history', `group:${group}`]))).toEqual(['the real one']);
    // Mallory signs with her own key for a head listing her among the members.
    const head = groupHead(await bobsLog(group));
    const members = [...head.members, malloryId].sort();
    const forged = sealFor(
      { identifier: malloryId, keyPair: mallory },
      {
        ...head,
        members,
        fingerprints: members.map((id) => publicKeys.get(id)?.fingerprint ?? ''),
      },
      'from mallory',
    );
    const lines = await bobReads(group, inject('history', group, forged));
    expect(codes(lines)).toEqual(['GROUP_NOT_MEMBER']);
    expect(texts(lines)).toEqual(['the real one']);
    // Only what verified is in Bob's local history: the real one, never the forgery.
    expect(await ok('bob', ['search', 'mallory'])).toEqual([]);
    expect(await ok('bob', ['search', 'real', '--peer', `group:${group}`])).toEqual([
      expect.objectContaining({ group, text: 'the real one', from: world.id('alice') }),
    ]);
    // The inbox counts it as refused, and the last message stays the real one.
    world.hostile.behave(inject('sync', group, forged));
    const inbox = await ok('bob', ['inbox']).finally(() => world.hostile.behave({}));
    expect(inbox.find((e) => e['group'] === group)).toMatchObject({
      rejected: 1,
      last: { text: 'the real one' },
    });
    const profile = await world.profile<{ peers: Record<string, unknown> }>('bob');
    expect(Object.keys(profile.peers)).not.toContain(malloryId);
  }, 180_000);

  it('cannot deliver a message for a head not in the verified log: GROUP_HEAD_UNKNOWN after a fetch, or GROUP_FORKED', async () => {
    const head = groupHead(await bobsLog(group));
    const invented = sealFor(
      as('alice'),
      { ...head, index: head.index + 1, hash: randomBytes(32).toString('hex') },
      'for an invented entry',
    );
    const fetchesBefore = world.hostile.requests.filter(
      (r) => r.event === 'group-log' && r.identifier === world.id('bob'),
    ).length;
    const unknown = await bobReads(group, inject('history', group, invented));
    expect(codes(unknown)).toEqual(['GROUP_HEAD_UNKNOWN']);
    expect(texts(unknown)).not.toContain('for an invented entry');
    // The unknown head made Bob fetch the log before refusing.
    const fetchesAfter = world.hostile.requests.filter(
      (r) => r.event === 'group-log' && r.identifier === world.id('bob'),
    ).length;
    expect(fetchesAfter).toBeGreaterThan(fetchesBefore);
    const forked = sealFor(
      as('alice'),
      { ...head, hash: randomBytes(32).toString('hex') },
      'for another entry at a verified place',
    );
    const lines = await bobReads(group, inject('history', group, forked));
    expect(codes(lines)).toEqual(['GROUP_FORKED']);
    expect(texts(lines)).toEqual(['the real one']);
  }, 120_000);

  it('cannot deliver a removed member’s message after the removal: GROUP_SENDER_REMOVED, at the reader and at the relay', async () => {
    const before = await bobsLog(group);
    await ok('alice', ['group', 'remove', group, 'carol']);
    await ok('bob', ['group', 'members', group]);
    // Carol signs for the head before her removal, which she was a member of.
    const late = sealFor(as('carol'), groupHead(before), 'after my removal');
    const lines = await bobReads(group, inject('history', group, late));
    expect(codes(lines)).toEqual(['GROUP_SENDER_REMOVED']);
    expect(texts(lines)).not.toContain('after my removal');
    // A relay that hides the removal from Carol: her client seals for the old head, and the
    // honest relay behind refuses it.
    world.hostile.behave({
      reply(event, _payload, response, conn) {
        if (event !== 'group-log' || conn.identifier !== world.id('carol')) return response;
        const page = response as { ok: boolean; entries?: { index: number }[] };
        if (!page.ok || page.entries === undefined) return response;
        return { ...page, entries: page.entries.filter((e) => e.index < 1), more: false };
      },
    });
    const carol = await world.cli('carol', ['send', `group:${group}`, 'still here', '--json']);
    world.hostile.behave({});
    expect(carol.code).toBe(1);
    expect(carol.stderr).toMatch(/"code":"GROUP_SENDER_REMOVED"/);
    expect(texts(await ok('bob', ['history', `group:${group}`]))).not.toContain('still here');
  }, 120_000);

  it('a message for an older head is shown marked, naming who could also read it', async () => {
    const log = await bobsLog(group);
    const old = log.entries[0];
    if (old === undefined) throw new Error('no entry 0');
    const stale = sealFor(as('alice'), old, 'for the old membership');
    const lines = await bobReads(group, inject('history', group, stale));
    const shown = lines.find((l) => l['text'] === 'for the old membership');
    expect(shown).toMatchObject({ current: false, head: 0, formerMembers: [world.id('carol')] });
    world.hostile.behave(inject('history', group, stale));
    const human = await world.cli('bob', ['history', `group:${group}`]);
    world.hostile.behave({});
    expect(human.stdout).toMatch(/written for an older membership \(log entry 0\)/);
    expect(human.stdout).toMatch(/could read it too/);
  }, 120_000);

  it('cannot replay a message into another group: WRONG_CONVERSATION, or SIGNATURE_INVALID when relabelled', async () => {
    const [other] = await ok('alice', ['group', 'create', 'other', 'bob']);
    const otherId = String(other?.['group']);
    await ok('alice', ['send', `group:${otherId}`, 'in other']);
    const team = sealFor(as('alice'), groupHead(await bobsLog(group)), 'only for team');
    const replayed = await bobReads(otherId, inject('history', otherId, team));
    expect(codes(replayed)).toEqual(['WRONG_CONVERSATION']);
    expect(texts(replayed)).toEqual(['in other']);
    const relabelled = await bobReads(
      otherId,
      inject('history', otherId, { ...team, group: otherId }),
    );
    expect(codes(relabelled)).toEqual(['SIGNATURE_INVALID']);
    expect(texts(relabelled)).toEqual(['in other']);
  }, 120_000);
  it('a send the relay calls stale is sealed again once after a fetch of the log; twice is the command’s failure', async () => {
    let refusals = 0;
    let limit = 1;
    world.hostile.behave({
      answer(event, _payload, conn) {
        if (event !== 'group-send' || conn.identifier !== world.id('alice') || refusals >= limit)
          return undefined;
        refusals++;
        return { ok: false, error: { code: 'GROUP_HEAD_UNKNOWN', message: 'stale head' } };
      },
    });
    const fetches = () =>
      world.hostile.requests.filter(
        (r) => r.event === 'group-log' && r.identifier === world.id('alice'),
      ).length;
    const before = fetches();
    try {
      const [sent] = await ok('alice', ['send', `group:${group}`, 'after a stale head']);
      expect(sent).toMatchObject({ group });
      expect(refusals).toBe(1);
      expect(fetches()).toBeGreaterThanOrEqual(before + 2);
      refusals = 0;
      limit = 2;
      const twice = await world.cli('alice', ['send', `group:${group}`, 'never stored', '--json']);
      expect(twice.code).toBe(1);
      expect(twice.stderr).toMatch(/"code":"GROUP_HEAD_UNKNOWN"/);
      expect(refusals).toBe(2);
    } finally {
      world.hostile.behave({});
    }
    const seen = texts(await ok('bob', ['history', `group:${group}`]));
    expect(seen.filter((t) => t === 'after a stale head')).toHaveLength(1);
    expect(seen).not.toContain('never stored');
  }, 120_000);
  it('a message of one group too many is a refused line, not the failure of inbox and history', async () => {
    // Anyone can make groups that list Dave: his profile already holds as many as it keeps.
    await world.register('dave');
    const daveHome = world.home('dave');
    const dave = await unlock(await loadProfile(daveHome), HOSTILE_CLI_PASSWORD);
    const profile = await loadProfile(daveHome);
    const groups: NonNullable<typeof profile.groups> = {};
    for (let i = 0; i < MAX_PROFILE_GROUPS; i++) {
      const entry = createGroupEntry(
        as('alice'),
        [{ identifier: world.id('dave'), publicKey: dave.keyPair.publicKey }],
        `spam ${String(i)}`,
      );
      // Groups Dave sent to: none is a stranger's that could give way to the new one.
      groups[entry.group] = { entries: [entry], helloAt: 0 };
    }
    profile.groups = groups;
    await saveProfile(daveHome, profile);
    const [created] = await ok('alice', ['group', 'create', 'one more', 'dave']);
    const overflow = String(created?.['group']);
    await ok('alice', ['send', `group:${overflow}`, 'over the cap']);
    const inbox = await world.cli('dave', ['inbox', '--json']);
    expect(inbox.code).toBe(0);
    expect(inbox.stdout).not.toContain('over the cap');
    const listed = jsonLines(inbox.stdout).find((e) => e['group'] === overflow);
    // Refused, both: Alice's hello to the new set of members and her message.
    expect(listed).toMatchObject({ rejected: 2 });
    expect(Object.keys((await loadProfile(daveHome)).groups ?? {})).toHaveLength(
      MAX_PROFILE_GROUPS,
    );
  }, 180_000);

  it('a message from a member whose key the relay changed is KEY_CHANGED naming them, not SIGNATURE_INVALID', async () => {
    const head = groupHead(await bobsLog(group));
    // Mallory signs in Alice's name (the head as Bob verified it, but for Mallory's key as hers).
    const fingerprints = head.members.map((id, i) =>
      id === world.id('alice') ? mallory.publicKey.fingerprint : (head.fingerprints[i] ?? ''),
    );
    const forged = sealFor(
      { identifier: world.id('alice'), keyPair: mallory },
      { ...head, fingerprints },
      'not alice',
    );
    // The relay serves Mallory's key for Alice beside the message Mallory signed in her name.
    const swapped = inject('history', group, forged);
    const lines = await bobReads(group, {
      ...swapped,
      answer(name, payload) {
        if (
          name === 'key' &&
          (payload as { identifier?: unknown }).identifier === world.id('alice')
        )
          return { ok: true, publicKey: mallory.publicKey.encoded };
        return undefined;
      },
    });
    expect(codes(lines)).toEqual(['KEY_CHANGED']);
    const refused = lines.find((l) => l['code'] === 'KEY_CHANGED');
    expect(String(refused?.['warning'])).toMatch(/alice/);
    expect(texts(lines)).not.toContain('not alice');
    // With Alice's real key served, the same message is a forgery.
    const honest = await bobReads(group, swapped);
    expect(codes(honest)).toEqual(['SIGNATURE_INVALID']);
  }, 120_000);
});
