import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

// docs/protocol.md 16.5 step 6: a removed member's messages that this device's stream held before
// it verified the removal stay in the group's history; the hostile test of group messages shows
// one placed after the removal refused (GROUP_SENDER_REMOVED).

const PASSWORD = 'the departed password';
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
  root = await tempDir('metachat-group-departed-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol']) await ok(name, ['register', name]);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe("a removed member's earlier messages", () => {
  it('stay in the history of a device that held them before it verified the removal', async () => {
    const [created] = await ok('alice', ['group', 'create', 'club', 'bob', 'carol']);
    const group = String(created?.['group']);
    await ok('carol', ['send', `group:${group}`, 'carol before']);
    const first = await ok('bob', ['history', `group:${group}`]);
    expect(first.filter((l) => 'text' in l).map((l) => l['text'])).toEqual(['carol before']);
    await ok('alice', ['group', 'remove', group, 'carol']);
    await ok('bob', ['group', 'members', group]);
    await ok('alice', ['send', `group:${group}`, 'alice after']);
    const later = await ok('bob', ['history', `group:${group}`]);
    expect(later.filter((l) => 'code' in l)).toEqual([]);
    expect(later.filter((l) => 'text' in l).map((l) => l['text'])).toEqual([
      'carol before',
      'alice after',
    ]);
    // Carol cannot write after it (the relay refuses, as every reader would).
    const late = await cli('carol', ['send', `group:${group}`, 'carol after', '--json']);
    expect(late.code).toBe(1);
  }, 240_000);
});
