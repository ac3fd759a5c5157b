import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';
import { startListening } from '../hostile/listening-cli.js';

const PASSWORD = 'the group password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;
const ids: Record<string, string> = {};

async function cli(name: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--home', join(root, name), '--server', daemon.url, '--password-stdin'], {
    input: `${PASSWORD}\n`,
  });
}

/** A `--json` command that must succeed: its one JSON object. */
async function ok(name: string, args: string[]): Promise<Record<string, unknown>> {
  const result = await cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  const [out] = jsonLines(result.stdout);
  return out ?? {};
}

/** A `--json` command that must fail: its exit code and error code. */
async function refused(
  name: string,
  args: string[],
): Promise<{ exit: number | null; code: string }> {
  const result = await cli(name, [...args, '--json']);
  const [report] = jsonLines(
    result.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .join('\n'),
  );
  const error = report?.['error'] as { code?: string } | undefined;
  return { exit: result.code, code: String(error?.code) };
}

/** The `group list --json` lines of a user. */
async function list(name: string): Promise<Record<string, unknown>[]> {
  const result = await cli(name, ['group', 'list', '--json']);
  expect(result.code).toBe(0);
  return jsonLines(result.stdout);
}

function sorted(...names: string[]): string[] {
  return names.map((n) => ids[n] ?? '').sort();
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-group-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol', 'dave', 'erin']) {
    const out = await ok(name, ['register', name]);
    ids[name] = String(out['id']);
  }
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('metachat group', () => {
  let group = '';

  it('creates a group of three, which each member verifies and lists under its name', async () => {
    const created = await ok('alice', ['group', 'create', 'team', 'bob', 'carol']);
    group = String(created['group']);
    expect(group).toMatch(/^[0-9a-f]{64}$/);
    expect(created).toMatchObject({
      name: 'team',
      head: 0,
      members: sorted('alice', 'bob', 'carol'),
      admins: [ids['alice']],
    });
    // Bob was offline: he names the group by its whole id once, then by its name.
    const seen = await ok('bob', ['group', 'members', group]);
    expect(seen['name']).toBe('team');
    const members = seen['members'] as { id: string; admin: boolean; key: string }[];
    expect(members.map((m) => m.id)).toEqual(sorted('alice', 'bob', 'carol'));
    expect(members.find((m) => m.id === ids['alice'])).toMatchObject({
      admin: true,
      key: 'pinned',
    });
    expect(members.find((m) => m.id === ids['bob'])).toMatchObject({ admin: false, key: 'me' });
    expect(await list('bob')).toEqual([
      expect.objectContaining({ group, name: 'team', members: sorted('alice', 'bob', 'carol') }),
    ]);
    await ok('carol', ['group', 'members', group.slice(0, 64)]);
    expect((await ok('bob', ['group', 'members', group.slice(0, 8)]))['group']).toBe(group);
  }, 120_000);

  it('refuses an add by a member who is not an admin, before signing anything', async () => {
    expect(await refused('bob', ['group', 'add', 'team', 'dave'])).toEqual({
      exit: 1,
      code: 'GROUP_NOT_ADMIN',
    });
    expect((await ok('alice', ['group', 'members', 'team']))['head']).toBe(0);
  }, 60_000);

  it('adds, removes and renames; each member sees the membership after every change', async () => {
    const added = await ok('alice', ['group', 'add', 'team', 'dave']);
    expect(added).toMatchObject({ head: 1, members: sorted('alice', 'bob', 'carol', 'dave') });
    // Dave reads the name through the key the add wrapped for him.
    expect(await ok('dave', ['group', 'members', group])).toMatchObject({ name: 'team' });

    const removed = await ok('alice', ['group', 'remove', 'team', 'carol']);
    expect(removed).toMatchObject({ head: 2, members: sorted('alice', 'bob', 'dave') });
    expect(await ok('bob', ['group', 'members', 'team'])).toMatchObject({
      members: expect.arrayContaining([expect.objectContaining({ id: ids['dave'] })]),
    });
    const carolSees = await ok('carol', ['group', 'members', 'team']);
    expect(carolSees['head']).toBe(2);
    expect((carolSees['members'] as { id: string }[]).map((m) => m.id)).toEqual(
      sorted('alice', 'bob', 'dave'),
    );

    expect(await ok('alice', ['group', 'rename', 'team', 'crew'])).toMatchObject({
      head: 3,
      name: 'crew',
    });
    expect(await list('bob')).toEqual([expect.objectContaining({ name: 'crew', head: 3 })]);
    expect(await list('dave')).toEqual([expect.objectContaining({ name: 'crew', head: 3 })]);
    // Carol, removed before the rename, keeps the last name she could read.
    expect(await list('carol')).toEqual([expect.objectContaining({ name: 'team', head: 3 })]);
  }, 180_000);

  it('lets a member leave; the others see it', async () => {
    const left = await ok('bob', ['group', 'leave', 'crew']);
    expect(left).toMatchObject({ head: 4, members: sorted('alice', 'dave') });
    expect(await ok('dave', ['group', 'members', 'crew'])).toMatchObject({
      head: 4,
      members: [expect.objectContaining({}), expect.objectContaining({})],
    });
    const human = await cli('bob', ['group', 'list']);
    expect(human.stdout).toMatch(/you are no longer a member/);
    // Bob is no member any more: he cannot change anything.
    expect(await refused('bob', ['group', 'rename', 'crew', 'mine'])).toEqual({
      exit: 1,
      code: 'GROUP_NOT_MEMBER',
    });
  }, 120_000);

  it('names a group by id, prefix or name, and says which when none or several answer', async () => {
    expect(await refused('alice', ['group', 'members', 'no-such-group'])).toEqual({
      exit: 2,
      code: 'UNKNOWN_GROUP',
    });
    await ok('alice', ['group', 'create', 'crew', 'dave']);
    expect(await refused('alice', ['group', 'members', 'crew'])).toEqual({
      exit: 2,
      code: 'AMBIGUOUS_GROUP',
    });
    expect((await ok('alice', ['group', 'members', group.slice(0, 6)]))['group']).toBe(group);
    expect(await list('alice')).toHaveLength(2);
    expect(await refused('alice', ['group', 'create', 'two\nlines', 'bob'])).toEqual({
      exit: 2,
      code: 'USAGE',
    });
  }, 120_000);

  it('listen takes the pushed entries into the group store, each change a line of its own', async () => {
    const listen = startListening(join(root, 'erin'), daemon.url, PASSWORD);
    try {
      // Once a message reaches it, listen is connected and hears pushes.
      expect((await cli('alice', ['send', 'erin', 'are you there'])).code).toBe(0);
      await listen.waitForStdout(/are you there/, 30_000);
      const party = String((await ok('alice', ['group', 'create', 'party', 'erin']))['group']);
      await listen.waitForStdout(/created the group/, 30_000);
      await ok('alice', ['group', 'rename', 'party', 'fiesta']);
      await listen.waitForStdout(/renamed the group/, 30_000);
      await ok('alice', ['group', 'remove', 'fiesta', 'erin']);
      await listen.waitForStdout(/removed me/, 30_000);
      const changes = jsonLines(listen.stdout()).filter((line) => 'change' in line);
      expect(changes).toEqual([
        { group: party, name: 'party', index: 0, change: 'alice created the group with me' },
        { group: party, name: 'fiesta', index: 1, change: 'alice renamed the group' },
        { group: party, name: 'fiesta', index: 2, change: 'alice removed me' },
      ]);
    } finally {
      expect(await listen.stop()).toBe(0);
    }
    // What listen verified is in the profile: the group is listed without naming its id.
    expect(await list('erin')).toEqual([expect.objectContaining({ name: 'fiesta', head: 2 })]);
  }, 180_000);
});
