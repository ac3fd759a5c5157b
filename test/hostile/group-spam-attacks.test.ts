import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { createGroupEntry, type GroupEntry, type KeyPair } from '../../src/core/index.js';
import { MAX_DISCOVERY_FAILURES } from '../../src/cli/groups/group-discovery.js';
import {
  entriesBytes,
  MAX_PROFILE_GROUP_BYTES,
  MAX_STRANGER_GROUP_BYTES,
  MAX_STRANGER_GROUPS,
  profileGroupBytes,
} from '../../src/cli/profile/group-budget.js';
import { loadProfile } from '../../src/cli/profile/profile.js';
import { unlock } from '../../src/cli/relay/session.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';

let world: HostileCliWorld;
const keyPairs: Record<string, KeyPair> = {};
/** The groups the relay lists for Dave, and the log it serves of each. */
let served = new Map<string, GroupEntry[]>();

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-group-spam-');
  for (const name of ['alice', 'bob', 'dave']) {
    await world.register(name);
    keyPairs[name] = (
      await unlock(await loadProfile(world.home(name)), HOSTILE_CLI_PASSWORD)
    ).keyPair;
  }
  world.hostile.behave({
    answer(event, payload, conn) {
      if (conn.identifier !== world.id('dave')) return undefined;
      if (event === 'group-list') return { ok: true, groups: [...served.keys()], more: false };
      const group = (payload as { group?: unknown }).group;
      const entries = typeof group === 'string' ? served.get(group) : undefined;
      if (event === 'group-log' && entries !== undefined) return { ok: true, entries, more: false };
      return undefined;
    },
  });
}, 180_000);

afterAll(async () => {
  await world.stop();
});

async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await world.cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

/** `count` groups Alice (whom Dave never wrote to) creates listing Dave, by id ascending. */
function flood(count: number): Map<string, GroupEntry[]> {
  const alice = { identifier: world.id('alice'), keyPair: keyPairs['alice'] as KeyPair };
  const dave = { identifier: world.id('dave'), publicKey: (keyPairs['dave'] as KeyPair).publicKey };
  const entries = Array.from({ length: count }, (_, i) =>
    createGroupEntry(alice, [dave], `spam ${String(i)}`),
  );
  entries.sort((a, b) => (a.group < b.group ? -1 : 1));
  return new Map(entries.map((e) => [e.group, [e]]));
}

/** How many `group-log` requests Dave made for the groups served now. */
function groupLogsAsked(): number {
  return world.hostile.requests.filter((r) => {
    const group = (r.payload as { group?: unknown } | undefined)?.group;
    return r.event === 'group-log' && typeof group === 'string' && served.has(group);
  }).length;
}

describe('groups of strangers cannot fill a profile', () => {
  it('a stranger flooding 60 groups keeps 20 of them; my own group stays and works', async () => {
    const [created] = await ok('dave', ['group', 'create', 'ours', 'bob']);
    const ours = String(created?.['group']);
    served = flood(60);
    const offered = [...served.values()].reduce((sum, e) => sum + entriesBytes(e), 0);
    const inbox = await world.cli('dave', ['inbox', '--json']);
    expect(inbox.code).toBe(0);
    const profile = await loadProfile(world.home('dave'));
    const held = Object.keys(profile.groups ?? {});
    expect(held).toContain(ours);
    const spam = held.filter((id) => served.has(id));
    expect(spam).toHaveLength(MAX_STRANGER_GROUPS);
    // The newest listed are kept, the oldest gave way.
    expect(spam).toEqual([...served.keys()].slice(-MAX_STRANGER_GROUPS));
    const kept = profileGroupBytes(profile);
    expect(kept).toBeLessThan(offered);
    expect(kept).toBeLessThanOrEqual(MAX_PROFILE_GROUP_BYTES);
    expect(kept - entriesBytes(profile.groups?.[ours]?.entries ?? [])).toBeLessThanOrEqual(
      MAX_STRANGER_GROUP_BYTES,
    );
    process.stderr.write(`group spam: offered ${offered} B in 60 logs, kept ${kept} B\n`);
    served = new Map();
    await ok('dave', ['send', `group:${ours}`, 'still ours']);
    const texts = (await ok('bob', ['history', `group:${ours}`])).map((l) => l['text']);
    expect(texts).toContain('still ours');
  }, 240_000);

  it('a group-list page out of order is GROUP_LIST_UNORDERED, and nothing of it is fetched', async () => {
    const ordered = [...flood(2).entries()];
    served = new Map(ordered.reverse());
    const before = groupLogsAsked();
    const listed = await world.cli('dave', ['group', 'list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).toContain('GROUP_LIST_UNORDERED');
    expect(groupLogsAsked()).toBe(before);
    served = new Map();
  }, 120_000);

  it(`bogus listed groups stop discovery after ${String(MAX_DISCOVERY_FAILURES)} failures`, async () => {
    // Each id's log is another group's: the verification refuses every one.
    const real = [...flood(1).values()][0] ?? [];
    const ids = Array.from({ length: 30 }, () => randomBytes(32).toString('hex')).sort();
    served = new Map(ids.map((id) => [id, real]));
    const before = groupLogsAsked();
    const inbox = await world.cli('dave', ['inbox', '--json']);
    expect(inbox.code).toBe(0);
    expect(inbox.stderr).toMatch(/looking for more stops here/);
    expect(groupLogsAsked() - before).toBe(MAX_DISCOVERY_FAILURES);
    const held = Object.keys((await loadProfile(world.home('dave'))).groups ?? {});
    expect(held.filter((id) => served.has(id))).toEqual([]);
    served = new Map();
  }, 120_000);
});
