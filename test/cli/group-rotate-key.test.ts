import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

// A member who rotates its key stays a member: the log still names the key it replaced, and the
// rotation statement that key signed carries the name over (docs/protocol.md 16.1).

const PASSWORD = 'the rotators password';
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

async function said(name: string, group: string): Promise<string[]> {
  const lines = await ok(name, ['history', `group:${group}`]);
  return lines.filter((l) => 'text' in l).map((l) => String(l['text']));
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-group-rotate-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol', 'dave']) await ok(name, ['register', name]);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('a group member who rotates its key', () => {
  it('keeps writing and reading, and the others follow the rotation', async () => {
    const [created] = await ok('alice', ['group', 'create', 'rotators', 'bob', 'carol']);
    const group = String(created?.['group']);
    await ok('alice', ['send', `group:${group}`, 'before bob rotated']);
    await ok('bob', ['send', `group:${group}`, 'bob before']);
    expect((await cli('bob', ['rotate-key'])).code).toBe(0);

    await ok('bob', ['send', `group:${group}`, 'bob with his new key']);
    const alice = await cli('alice', ['history', `group:${group}`, '--json']);
    expect(alice.code).toBe(0);
    expect(alice.stderr).toContain('replaced their key (signed by their previous key)');
    expect(
      jsonLines(alice.stdout)
        .filter((l) => 'text' in l)
        .map((l) => l['text']),
    ).toEqual(['before bob rotated', 'bob before', 'bob with his new key']);
    await ok('alice', ['send', `group:${group}`, 'alice to the new key']);
    // Carol never pinned bob: the relay's rotation chain from the logged key carries her over.
    expect(await said('carol', group)).toEqual([
      'before bob rotated',
      'bob before',
      'bob with his new key',
      'alice to the new key',
    ]);
    // Bob reads what was sealed to his old key (his replaced key) and to the new one.
    expect(await said('bob', group)).toEqual([
      'before bob rotated',
      'bob before',
      'bob with his new key',
      'alice to the new key',
    ]);
    await ok('alice', ['group', 'add', group, 'dave']);
    await ok('bob', ['send', `group:${group}`, 'hello dave']);
    expect(await said('dave', group)).toEqual(['hello dave']);
    const members = await ok('dave', ['group', 'members', group]);
    expect(JSON.stringify(members)).not.toContain('mismatch');
  }, 300_000);
});
