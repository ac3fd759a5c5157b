import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

// A second device of an account (`metachat login` elsewhere) holds no group: it asks the relay
// which groups list it (`group-list`) and verifies each log before it shows one.

const PASSWORD = 'the second device password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;

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
  root = await tempDir('metachat-group-second-device-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol']) await ok(name, ['register', name]);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('a second device of a group member', () => {
  it('finds the groups that list it, verified, and not those it was removed from', async () => {
    const [kept] = await ok('alice', ['group', 'create', 'kept', 'bob']);
    const [gone] = await ok('alice', ['group', 'create', 'gone', 'bob', 'carol']);
    const [other] = await ok('alice', ['group', 'create', 'other', 'carol']);
    await ok('alice', ['group', 'remove', String(gone?.['group']), 'bob']);
    await ok('alice', ['send', `group:${String(kept?.['group'])}`, 'for both devices']);
    expect((await cli('bob-laptop', ['login', 'bob'])).code).toBe(0);

    const listed = await ok('bob-laptop', ['group', 'list']);
    expect(listed.map((g) => g['name'])).toEqual(['kept']);
    expect(listed.map((g) => g['group'])).not.toContain(other?.['group']);
    const history = await ok('bob-laptop', ['history', 'group:kept']);
    expect(history.filter((l) => 'text' in l).map((l) => l['text'])).toEqual(['for both devices']);
    // The inbox of a third device finds them too, so the group's name works right after.
    expect((await cli('bob-phone', ['login', 'bob'])).code).toBe(0);
    const inbox = await ok('bob-phone', ['inbox']);
    expect(inbox.find((e) => e['group'] === kept?.['group'])).toBeDefined();
    const [sent] = await ok('bob-phone', ['send', 'group:kept', 'from the phone']);
    expect(sent?.['group']).toBe(kept?.['group']);
  }, 240_000);
});
