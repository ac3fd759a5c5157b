import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';
import { startListening } from '../hostile/listening-cli.js';

const PASSWORD = 'the one password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;

interface SavedProfile {
  publicKey: string;
  replacedKeys?: { publicKey: string }[];
  peers: Record<
    string,
    { publicKey?: string; verified?: boolean; rotation?: number; changedKey?: string }
  >;
}

function home(name: string): string {
  return join(root, name);
}

async function cli(name: string, args: string[], input = `${PASSWORD}\n`): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', daemon.url, '--password-stdin'], {
    input,
  });
}

async function profile(name: string): Promise<SavedProfile> {
  return JSON.parse(await readFile(join(home(name), 'profile.json'), 'utf8')) as SavedProfile;
}

async function whoami(name: string): Promise<{ identifier: string; fingerprint: string }> {
  const result = await cli(name, ['whoami', '--json']);
  const [out] = jsonLines(result.stdout);
  return { identifier: String(out?.['id']), fingerprint: String(out?.['fingerprint']) };
}

/** The texts of a `history --json`, and the warnings it printed. */
async function history(name: string, peer: string) {
  const result = await cli(name, ['history', peer, '--json']);
  expect(result.code).toBe(0);
  const lines = jsonLines(result.stdout);
  return {
    texts: lines.filter((line) => 'text' in line).map((line) => String(line['text'])),
    warnings: lines.filter((line) => 'warning' in line),
  };
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-homes-');
  daemon = await spawnDaemon(dataDir);
}, 60_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('metachat rotate-key', () => {
  it('replaces the key: a peer that verified the old one accepts the new one, verified, and says so; old messages stay readable', async () => {
    expect((await cli('bob', ['register', 'bob'])).code).toBe(0);
    expect((await cli('alice', ['register', 'alice'])).code).toBe(0);
    expect((await cli('bob-laptop', ['login', 'bob'])).code).toBe(0);
    const bob = await whoami('bob');
    // Alice vouches for Bob's key with the fingerprint, so her pin is verified.
    const address = `${bob.identifier}#${bob.fingerprint}`;
    expect((await cli('alice', ['send', address, 'to the old key'])).code).toBe(0);
    expect((await cli('bob', ['send', 'alice', 'signed by the old key'])).code).toBe(0);
    expect((await profile('alice')).peers[bob.identifier]?.verified).toBe(true);
    // Reading Bob's message teaches Alice his name (the username exchange).
    expect((await history('alice', bob.identifier)).texts).toHaveLength(2);

    const rotated = await cli('bob', ['rotate-key', '--json']);
    expect(rotated.stderr).toBe('');
    expect(rotated.code).toBe(0);
    const [out] = jsonLines(rotated.stdout);
    expect(out).toMatchObject({ rotated: true, previous: bob.fingerprint, rotation: 1 });
    expect(out?.['fingerprint']).not.toBe(bob.fingerprint);
    const bobProfile = await profile('bob');
    expect(bobProfile.replacedKeys?.map((key) => key.publicKey)).toHaveLength(1);

    // Alice's next send follows the rotation: no KEY_CHANGED, a line that says what happened.
    const sent = await cli('alice', ['send', 'bob', 'to the new key']);
    expect(sent.code).toBe(0);
    expect(sent.stderr).toMatch(/bob replaced their key \(signed by their previous key\)/);
    const pin = (await profile('alice')).peers[bob.identifier];
    expect(pin?.publicKey).toBe(bobProfile.publicKey);
    expect(pin?.verified).toBe(true);
    expect(pin?.rotation).toBe(1);
    expect(pin?.changedKey).toBeUndefined();
    expect((await cli('bob', ['send', 'alice', 'signed by the new key'])).code).toBe(0);

    // Both sides read everything: Bob with his replaced key, Alice with Bob's replaced public key.
    const all = [
      'to the old key',
      'signed by the old key',
      'to the new key',
      'signed by the new key',
    ];
    for (const [reader, peer] of [
      ['bob', 'alice'],
      ['alice', 'bob'],
    ] as const) {
      const read = await history(reader, peer);
      expect(read.warnings).toEqual([]);
      expect(read.texts).toEqual(all);
    }

    // Bob's laptop still holds the old key: it no longer authenticates until it logs in again,
    // and then reads the old messages too (the relay keeps the replaced key, wrapped).
    const stale = await cli('bob-laptop', ['send', 'alice', 'from the old key']);
    expect(stale.code).toBe(1);
    expect((await cli('bob-laptop', ['login', 'bob', '--force'])).code).toBe(0);
    expect((await history('bob-laptop', 'alice')).texts).toEqual(all);
  }, 180_000);

  it('listen opens packets sealed to a replaced key, and a peer that never verified follows the rotation too', async () => {
    expect((await cli('carol', ['register', 'carol'])).code).toBe(0);
    expect((await cli('dave', ['register', 'dave'])).code).toBe(0);
    expect((await cli('dave', ['send', 'carol', 'first, to the old key'])).code).toBe(0);
    expect((await cli('carol', ['rotate-key'])).code).toBe(0);
    expect((await cli('carol', ['rotate-key'])).code).toBe(0);
    const sent = await cli('dave', ['send', 'carol', 'then to the newest key']);
    expect(sent.code).toBe(0);
    const carol = await whoami('carol');
    // Dave never learnt Carol's name (she never wrote to him): the line names her identifier.
    expect(sent.stderr).toContain(
      `${carol.identifier.slice(0, 20)}… replaced their key (signed by their previous key)`,
    );
    const pin = (await profile('dave')).peers[carol.identifier];
    expect(pin?.rotation).toBe(2);
    expect(pin?.verified).toBeUndefined();

    const listen = startListening(home('carol'), daemon.url, PASSWORD);
    try {
      await listen.waitForStdout(/then to the newest key/, 20_000);
      const texts = jsonLines(listen.stdout())
        .filter((line) => 'text' in line)
        .map((line) => line['text']);
      expect(texts).toEqual(['first, to the old key', 'then to the newest key']);
      expect(listen.stdout()).not.toMatch(/warning/);
    } finally {
      await listen.stop();
    }
  }, 180_000);

  it('refuses a wrong password and changes nothing', async () => {
    expect((await cli('erin', ['register', 'erin'])).code).toBe(0);
    const before = (await profile('erin')).publicKey;
    const wrong = await cli('erin', ['rotate-key'], 'not the password\n');
    expect(wrong.code).toBe(1);
    expect((await profile('erin')).publicKey).toBe(before);
    expect((await cli('erin-2', ['login', 'erin'])).code).toBe(0);
    expect((await profile('erin-2')).publicKey).toBe(before);
  }, 120_000);
});
