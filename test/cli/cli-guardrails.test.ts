import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { composeMessage, markHelloSent } from '../../src/cli/outgoing/compose.js';
import { loadOutbox, saveOutbox, type OutboxEntry } from '../../src/cli/outgoing/outbox.js';
import { loadProfile, saveProfile } from '../../src/cli/profile/profile.js';
import { unlock } from '../../src/cli/relay/session.js';
import { importPublicKey } from '../../src/core/index.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery staple';
let daemon: DaemonProcess;
let root: string;
const ids: Record<string, string> = {};

function home(name: string): string {
  return join(root, name);
}

async function cli(name: string, args: string[], input = `${PASSWORD}\n`): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', daemon.url, '--password-stdin'], {
    input,
  });
}

function json(result: CliResult): Record<string, unknown>[] {
  return result.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function id(name: string): string {
  const value = ids[name];
  if (value === undefined) throw new Error(`${name} is not registered`);
  return value;
}

/** A loopback URL where nothing listens: a port just bound and released. */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${String(address.port)}`;
}

beforeAll(async () => {
  root = await tempDir('metachat-guardrails-');
  daemon = await spawnDaemon(await tempDir());
  for (const name of ['alice', 'bob']) {
    const result = await cli(name, ['register', name, '--json']);
    expect(result.code).toBe(0);
    ids[name] = String(json(result)[0]?.['id']);
  }
}, 60_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(root, { recursive: true, force: true });
});

describe('register and login never replace an account silently', () => {
  it('refuses a --home that holds an account, naming what would be lost, before asking a password', async () => {
    expect((await cli('alice', ['send', id('bob'), 'a first message'])).code).toBe(0);
    expect((await cli('alice', ['alias', id('bob'), 'bobby'])).code).toBe(0);
    const before = await readFile(join(home('alice'), 'profile.json'), 'utf8');
    // No password source at all: the refusal must come before any password is asked for.
    for (const command of [
      ['register', 'alice-again'],
      ['login', 'bob'],
    ]) {
      const refused = await runCli([...command, '--home', home('alice'), '--server', daemon.url]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`already holds the account alice (${id('alice')})`);
      expect(refused.stderr).toContain('1 pinned key, 0 verified marks and 1 alias');
      expect(refused.stderr).toContain('--force');
      expect(refused.stderr).not.toMatch(/password/i);
    }
    expect(await readFile(join(home('alice'), 'profile.json'), 'utf8')).toBe(before);
    const asJson = await runCli(['login', 'bob', '--home', home('alice'), '--json']);
    expect(JSON.parse(asJson.stderr)).toEqual({
      error: { code: 'PROFILE_EXISTS', message: expect.stringContaining('1 alias') as unknown },
    });
  }, 60_000);

  it('replaces it with --force, dropping the old account’s queue, and says what went', async () => {
    const other = await cli('replaced', ['register', 'replaced-one']);
    expect(other.code).toBe(0);
    expect((await cli('replaced', ['send', id('bob'), 'pin bob'])).code).toBe(0);
    const forced = await cli('replaced', ['login', 'bob', '--force', '--json']);
    expect(forced.code).toBe(0);
    expect(json(forced)[0]).toMatchObject({ id: id('bob') });
    expect(forced.stderr).toMatch(/replaced the account replaced-one .*1 pinned key/);
    expect((await loadProfile(home('replaced'))).identifier).toBe(id('bob'));
    await expect(stat(join(home('replaced'), 'outbox.json'))).rejects.toThrow(/ENOENT/);
  }, 60_000);
});

describe('checks come in the order a new user needs them', () => {
  it('register tells an unreachable relay before asking for a password', async () => {
    const url = await deadUrl();
    const result = await runCli(['register', 'newcomer', '--home', home('newcomer')], {
      env: { METACHAT_SERVER: url },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Cannot reach the relay at ${url}`);
    await expect(stat(home('newcomer'))).rejects.toThrow(/ENOENT/);
  }, 60_000);

  it('register of a taken username says so plainly, names login, and saves nothing', async () => {
    const plain = await cli('alice-again', ['register', 'alice']);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(
      `metachat: The username "alice" is already registered on ${daemon.url}: choose another, or run "metachat login alice" if it is yours. Nothing was saved.`,
    );
    await expect(stat(join(home('alice-again'), 'profile.json'))).rejects.toMatchObject({
      code: 'ENOENT',
    });
    const asJson = await cli('alice-again', ['register', 'alice', '--json']);
    expect(asJson.code).toBe(1);
    const report = JSON.parse(asJson.stderr.trim()) as { error: { code: string; message: string } };
    expect(report.error.code).toBe('ALREADY_REGISTERED');
    expect(report.error.message).toContain('metachat login alice');
  });

  it('refuses a short password before making keys, and calls an empty password line empty', async () => {
    const started = Date.now();
    const short = await cli('shorty', ['register', 'shorty'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/at least \d+ characters/);
    expect(Date.now() - started).toBeLessThan(20_000);
    const empty = await cli('alice', ['history', id('bob')], '\n');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toMatch(/first line of standard input is empty/);
  }, 60_000);

  it('a --server that is not a URL is a usage error for every command, and --json errors are JSON', async () => {
    for (const args of [['whoami'], ['send', id('bob'), 'hi'], ['register', 'zed']]) {
      const result = await runCli([...args, '--server', 'notaurl', '--home', home('alice')]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--server "notaurl" is not a URL/);
    }
    const env = await runCli(['whoami', '--home', home('alice')], {
      env: { METACHAT_SERVER: 'ftp://relay.example' },
    });
    expect(env.code).toBe(2);
    const usage = await runCli(['send', '--json']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.stderr)).toEqual({
      error: { code: 'USAGE', message: "missing required argument 'peer'" },
    });
    const wrong = await cli('alice', ['history', id('bob'), '--json'], 'not the password\n');
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stderr)).toMatchObject({ error: { code: 'WRONG_PASSWORD' } });
  }, 60_000);
});

describe('commands of a profile send what the chat screen queued first', () => {
  it('a later send never overtakes messages left in the outbox, and each goes once', async () => {
    // Two messages sealed and queued exactly as the chat screen does while offline.
    const profile = await loadProfile(home('alice'));
    const account = await unlock(profile, PASSWORD);
    const bobKey = importPublicKey((await loadProfile(home('bob'))).publicKey);
    const entries: OutboxEntry[] = [];
    for (const text of ['queued one', 'queued two']) {
      const { packets, hello } = composeMessage(account, profile, id('bob'), bobKey, text);
      if (hello) markHelloSent(profile, id('bob'));
      entries.push({ peer: id('bob'), packets: [...packets] });
    }
    await saveOutbox(home('alice'), entries);
    await saveProfile(home('alice'), profile);
    const sent = await cli('alice', ['send', id('bob'), 'typed later']);
    expect(sent.code).toBe(0);
    expect(sent.stderr).toContain('first sent 2 messages the chat screen had queued');
    expect(await loadOutbox(home('alice'))).toEqual([]);
    const again = await cli('alice', ['history', id('bob'), '--json']);
    expect(again.stderr).toBe('');
    const texts = json(await cli('bob', ['history', id('alice'), '--json'])).map((m) => m['text']);
    expect(texts.slice(-3)).toEqual(['queued one', 'queued two', 'typed later']);
    expect(texts.filter((text) => text === 'queued one')).toHaveLength(1);
  }, 60_000);
});

describe('the inbox while the relay is down', () => {
  it('says it is offline, where it tried, and lists what this device knows', async () => {
    const url = await deadUrl();
    const args = ['inbox', '--home', home('alice'), '--server', url, '--password-stdin'];
    const human = await runCli(args, { input: `${PASSWORD}\n` });
    expect(human.code).toBe(0);
    expect(human.stderr).toContain(`offline: Cannot reach the relay at ${url}`);
    expect(human.stdout).toMatch(/bobby\s+key pinned, not verified/);
    expect(human.stdout).not.toContain('No conversations yet');
    const asJson = await runCli([...args, '--json'], { input: `${PASSWORD}\n` });
    expect(json(asJson)).toEqual([
      { id: id('bob'), name: 'bobby', trust: 'pinned', queued: 0, offline: true },
    ]);
  }, 60_000);
});

describe('a peer by username, and messages refused alike', () => {
  it('send and history take an unknown username as its hashed identifier, say so, and show the first contact', async () => {
    const carol = await cli('carol', ['register', 'carol', '--json']);
    const carolId = String(json(carol)[0]?.['id']);
    const carolFp = String(json(carol)[0]?.['fingerprint']);
    const sent = await cli('bob', ['send', 'carol', 'hello by name']);
    expect(sent.code).toBe(0);
    expect(sent.stderr).toContain(
      `"carol" is not an alias or a known name here; taken as a username: identifier ${carolId}.`,
    );
    expect(sent.stderr).toContain(
      `First contact with carol: identifier ${carolId}, key fingerprint ${carolFp}.`,
    );
    const read = await cli('carol', ['history', 'bob', '--json']);
    expect(read.stderr).toContain(`identifier ${id('bob')}`);
    expect(json(read).map((m) => m['text'])).toEqual(['hello by name']);
    // The second time the key is pinned: no first-contact line again.
    const again = await cli('bob', ['send', 'carol', 'again']);
    expect(again.stderr).not.toContain('First contact');
    const nobody = await cli('bob', ['send', 'nobody-at-all', 'hi']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toMatch(/No account "nobody-at-all" on this relay/);
  }, 90_000);

  it('refuses white space, control characters and oversize text in plain words, with units', async () => {
    const blank = await cli('alice', ['send', id('bob'), '  ', '\t']);
    expect(blank.code).toBe(2);
    expect(blank.stderr).toContain('the message is only white space');
    const piped = await cli('alice', ['send', id('bob'), '-'], `${PASSWORD}\n \n\n`);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('only white space');
    const control = await cli('alice', ['send', id('bob'), 'a\u001b[2Jb']);
    expect(control.code).toBe(2);
    expect(control.stderr).toContain('control characters');
    const huge = await cli('alice', ['send', id('bob'), '-'], `${PASSWORD}\n${'é'.repeat(9000)}`);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/KiB/);
    for (const result of [blank, piped, control, huge])
      expect(result.stderr).not.toMatch(/body\.|text:/);
  }, 60_000);
});
