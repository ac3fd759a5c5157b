import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
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

async function cli(name: string, args: string[], input = `${PASSWORD}\n`): Promise<CliResult> {
  return runCli([...args, '--home', join(root, name), '--server', daemon.url, '--password-stdin'], {
    input,
  });
}

/** A `--json` command that must succeed: its JSON lines. */
async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

/** A `--json` command that must fail: its exit code, error code and what it said. */
async function refused(
  name: string,
  args: string[],
): Promise<{ exit: number | null; code: string; stderr: string }> {
  const result = await cli(name, [...args, '--json']);
  const line = result.stderr.split('\n').find((l) => l.startsWith('{"error"'));
  const error = jsonLines(line ?? '{}')[0]?.['error'] as { code?: string } | undefined;
  return { exit: result.code, code: String(error?.code), stderr: result.stderr };
}

/** The text messages of a `history group:… --json`, as who said what. */
async function said(name: string, group: string): Promise<string[]> {
  const lines = await ok(name, ['history', `group:${group}`]);
  return lines
    .filter((l) => 'text' in l)
    .map((l) => `${String(l['sender'])}: ${String(l['text'])}`);
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-group-message-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol', 'dave']) {
    const [out] = await ok(name, ['register', name]);
    ids[name] = String(out?.['id']);
  }
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('group messages through the CLI', () => {
  let group = '';

  it('sends to a group of three; each member sees it with the sender named, in listen and history', async () => {
    const [created] = await ok('alice', ['group', 'create', 'team', 'bob', 'carol']);
    group = String(created?.['group']);
    // Bob listens without holding the group: the first message's head makes him fetch the log.
    const listen = startListening(join(root, 'bob'), daemon.url, PASSWORD);
    try {
      // Once a message reaches it, listen is connected.
      expect((await cli('alice', ['send', 'bob', 'ping'])).code).toBe(0);
      await listen.waitForStdout(/ping/, 30_000);
      const [sent] = await ok('alice', ['send', 'group:team', 'hello', 'team']);
      expect(sent).toMatchObject({ group, head: 0 });
      expect(sent?.['seq']).toEqual(expect.any(Number));
      await listen.waitForStdout(/hello team/, 30_000);
      const line = jsonLines(listen.stdout()).find((l) => l['text'] === 'hello team');
      expect(line).toMatchObject({
        group,
        name: 'team',
        from: ids['alice'],
        sender: 'alice',
        direction: 'incoming',
        head: 0,
        current: true,
      });
      expect(line?.['seq']).toEqual(expect.any(Number));
      expect(line?.['time']).toEqual(expect.any(Number));
    } finally {
      expect(await listen.stop()).toBe(0);
    }
    // Carol, who never ran a group command, names the group by its id.
    expect(await said('carol', group)).toEqual(['alice: hello team']);
    expect((await ok('carol', ['send', `group:${group.slice(0, 8)}`, 'hi all'])).length).toBe(1);
    expect(await said('alice', group)).toEqual(['me: hello team', 'carol: hi all']);
    expect(await said('bob', 'team')).toEqual(['alice: hello team', 'carol: hi all']);
    const human = await cli('bob', ['history', 'group:team']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/\[team\] carol: hi all/);
    // A group is never a peer's conversation, nor a peer's a group's.
    expect(await ok('bob', ['history', 'alice'])).toEqual([
      expect.objectContaining({ text: 'ping' }),
    ]);
  }, 240_000);

  it('lists groups in the inbox with their last message and unread count', async () => {
    await ok('alice', ['send', 'group:team', 'unread one']);
    const dave = await ok('dave', ['inbox']);
    expect(dave).toEqual([]);
    const entries = await ok('carol', ['inbox']);
    const row = entries.find((e) => e['group'] === group);
    expect(row).toMatchObject({
      group,
      name: 'team',
      unread: 1,
      last: { sender: 'alice', text: 'unread one' },
    });
    await ok('carol', ['history', 'group:team']);
    const after = (await ok('carol', ['inbox'])).find((e) => e['group'] === group);
    expect(after).toMatchObject({ unread: 0 });
    const human = await cli('carol', ['inbox']);
    expect(human.stdout).toMatch(/\[team\]/);
  }, 120_000);

  it('a removed member does not receive the next message, and their send is refused', async () => {
    await ok('alice', ['group', 'remove', 'team', 'carol']);
    await ok('alice', ['send', 'group:team', 'without carol']);
    expect(await said('bob', 'team')).toContain('alice: without carol');
    expect(await said('carol', 'team')).not.toContain('alice: without carol');
    const carol = await refused('carol', ['send', 'group:team', 'still here?']);
    expect(carol).toMatchObject({ exit: 1, code: 'GROUP_NOT_MEMBER' });
    expect(await said('bob', 'team')).not.toContain('carol: still here?');
  }, 120_000);

  it('a member whose pinned key changed blocks the send, and is named', async () => {
    // Bob's first group message carries his username: Alice names him by it from then on.
    await ok('bob', ['send', 'group:team', 'bob here']);
    expect(await said('alice', 'team')).toContain('bob: bob here');
    const davePublic = (
      JSON.parse(await readFile(join(root, 'dave', 'profile.json'), 'utf8')) as {
        publicKey: string;
      }
    ).publicKey;
    const path = join(root, 'alice', 'profile.json');
    const profile = JSON.parse(await readFile(path, 'utf8')) as {
      peers: Record<string, Record<string, unknown>>;
    };
    profile.peers[ids['bob'] ?? ''] = { ...profile.peers[ids['bob'] ?? ''], publicKey: davePublic };
    await writeFile(path, JSON.stringify(profile));
    const blocked = await refused('alice', ['send', 'group:team', 'secret']);
    expect(blocked).toMatchObject({ exit: 1, code: 'KEY_CHANGED' });
    expect(blocked.stderr).toMatch(/bob blocks sending to \\"team\\"/);
    expect(await said('bob', 'team')).not.toContain('alice: secret');
  }, 120_000);

  it('says which group a name does not answer to, and never takes a group for a peer', async () => {
    expect(await refused('alice', ['send', 'group:nothing', 'hi'])).toMatchObject({
      exit: 2,
      code: 'UNKNOWN_GROUP',
    });
    expect(await refused('alice', ['history', 'group:nothing'])).toMatchObject({
      exit: 2,
      code: 'UNKNOWN_GROUP',
    });
    // The group's name is no peer's: without the prefix it is a username nobody registered.
    expect((await refused('alice', ['send', 'team', 'hi'])).exit).not.toBe(0);
  }, 60_000);

  it('the offline inbox lists the groups the profile keeps, with their verified membership', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (address === null || typeof address === 'string') throw new Error('no port');
    const dead = `http://127.0.0.1:${String(address.port)}`;
    const offline = (name: string, json: string[] = []) =>
      runCli(['inbox', ...json, '--home', join(root, name), '--server', dead, '--password-stdin'], {
        input: `${PASSWORD}\n`,
      });
    const alice = await offline('alice');
    expect(alice.code).toBe(0);
    expect(alice.stderr).toContain('offline:');
    expect(alice.stdout).toMatch(/\[team\]\s+group of 2, admin/);
    // Carol holds the log with her removal (her refused send fetched it).
    expect((await offline('carol')).stdout).toMatch(/\[team\]\s+group of 2, no longer a member/);
    const bob = jsonLines((await offline('bob', ['--json'])).stdout);
    expect(bob.find((line) => line['group'] === group)).toEqual({
      group,
      name: 'team',
      members: 2,
      member: true,
      admin: false,
      offline: true,
    });
    expect((await offline('dave')).stdout).not.toContain('[team]');
  }, 60_000);
});
