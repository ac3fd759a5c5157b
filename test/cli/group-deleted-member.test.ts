import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

// A group member who deletes the account stays a member until an admin removes them: the others
// keep sending to the group (the message carries a key for them, the relay places no copy for them).

const PASSWORD = 'the leavers password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;
const ids: Record<string, string> = {};

async function cli(name: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--home', join(root, name), '--server', daemon.url, '--password-stdin'], {
    input: `${PASSWORD}\n`,
  });
}

async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-group-deleted-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol']) {
    const [out] = await ok(name, ['register', name]);
    ids[name] = String(out?.['id']);
  }
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('a group with a member whose account was deleted', () => {
  it('still takes messages from the others, and the deleted member can be removed', async () => {
    const [created] = await ok('alice', ['group', 'create', 'leavers', 'bob', 'carol']);
    const group = String(created?.['group']);
    await ok('alice', ['send', 'group:leavers', 'before carol left']);
    expect((await cli('carol', ['delete-account', '--confirm', 'carol'])).code).toBe(0);

    await ok('alice', ['send', 'group:leavers', 'after carol left']);
    await ok('bob', ['send', `group:${group}`, 'bob too']);
    const history = await ok('bob', ['history', `group:${group}`]);
    expect(history.filter((l) => 'text' in l).map((l) => l['text'])).toEqual([
      'before carol left',
      'after carol left',
      'bob too',
    ]);
    // The member list says so, from the deletion statement that verified under carol's key.
    const [view] = await ok('alice', ['group', 'members', 'leavers']);
    const rows = view?.['members'] as { id: string; key: string }[];
    expect(rows.find((m) => m.id === ids['carol'])?.key).toBe('deleted');
    expect(rows.find((m) => m.id === ids['bob'])?.key).toBe('pinned');
    await ok('alice', ['group', 'remove', 'leavers', 'carol']);
    await ok('alice', ['send', 'group:leavers', 'without carol']);
  }, 240_000);
});
