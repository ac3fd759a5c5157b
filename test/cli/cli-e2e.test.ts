import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, importPublicKey, safetyNumber } from '../../src/core/index.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery staple';
const SECRET_TEXT = 'the eagle lands at midnight';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;
const ids: Record<string, string> = {};
const fingerprints: Record<string, string> = {};

/** Every daemon lifetime of this file, so the logs of all of them can be read at the end. */
const lifetimes: DaemonProcess[] = [];

async function startDaemon(): Promise<DaemonProcess> {
  const started = await spawnDaemon(dataDir);
  lifetimes.push(started);
  return started;
}

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

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-homes-');
  daemon = await startDaemon();
  for (const name of ['alice', 'bob']) {
    const result = await cli(name, ['register', name, '--json']);
    expect(result.code).toBe(0);
    const [out] = json(result);
    ids[name] = String(out?.['id']);
    fingerprints[name] = String(out?.['fingerprint']);
  }
}, 60_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('metachat CLI against a real daemon', () => {
  it('keeps the profile private: 0600 file in a 0700 directory, no plaintext key', async () => {
    expect((await stat(home('alice'))).mode & 0o777).toBe(0o700);
    const file = join(home('alice'), 'profile.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const profile = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(profile)).not.toContain('privateKey');
    expect(JSON.stringify(profile)).not.toContain(PASSWORD);
  });

  it('sends both ways and shows verified history on both sides, with the exchanged username', async () => {
    const sent = await cli('alice', ['send', ids['bob'] ?? '', SECRET_TEXT, '--json']);
    expect(sent.code).toBe(0);
    expect(json(sent)[0]).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/) as unknown });
    // Bob learns the name "alice" from her verified hello when he reads, then can address her by it.
    const firstRead = await cli('bob', ['history', ids['alice'] ?? '']);
    expect(firstRead.stdout).toMatch(/alice: the eagle lands at midnight/);
    const reply = await cli('bob', ['send', 'alice', 'received, over']);
    expect(reply.stderr).toBe('');
    expect(reply.code).toBe(0);
    const bobView = await cli('bob', ['history', ids['alice'] ?? '', '--json']);
    expect(json(bobView).map((m) => [m['direction'], m['text']])).toEqual([
      ['incoming', SECRET_TEXT],
      ['outgoing', 'received, over'],
    ]);
    const aliceView = await cli('alice', ['history', ids['bob'] ?? '']);
    expect(aliceView.stdout).toMatch(/me: the eagle lands at midnight/);
    expect(aliceView.stdout).toMatch(/bob: received, over/);
  }, 60_000);

  it('lists conversations in the inbox with unread counts that history clears', async () => {
    for (const text of ['unread one', 'unread two']) {
      expect((await cli('alice', ['send', ids['bob'] ?? '', text])).code).toBe(0);
    }
    const before = json(await cli('bob', ['inbox', '--json']));
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({
      id: ids['alice'],
      name: 'alice',
      unread: 2,
      online: false,
      rejected: 0,
    });
    expect(typeof before[0]?.['lastSeen']).toBe('number');
    await cli('bob', ['history', 'alice']);
    expect(json(await cli('bob', ['inbox', '--json']))[0]).toMatchObject({ unread: 0 });
  }, 60_000);

  it('reads the text to send from standard input with -, after the password line with --password-stdin', async () => {
    const withEnv = await runCli(
      ['send', ids['bob'] ?? '', '-', '--home', home('alice'), '--server', daemon.url],
      { input: 'from a pipe\n', env: { METACHAT_PASSWORD: PASSWORD } },
    );
    expect(withEnv.code).toBe(0);
    const afterPassword = await cli(
      'alice',
      ['send', ids['bob'] ?? '', '-'],
      `${PASSWORD}\nline one\nline two\n`,
    );
    expect(afterPassword.stderr).toBe('');
    expect(afterPassword.code).toBe(0);
    const texts = json(await cli('bob', ['history', ids['alice'] ?? '', '--json'])).map(
      (m) => m['text'],
    );
    expect(texts.slice(-2)).toEqual(['from a pipe', 'line one\nline two']);
  }, 30_000);

  it('listen prints incoming verified messages as JSON lines until interrupted', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/entry.ts',
        'listen',
        '--home',
        home('bob'),
        '--server',
        daemon.url,
      ],
      { env: { ...process.env, METACHAT_PASSWORD: PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await cli('alice', ['send', ids['bob'] ?? '', 'live wire'])).code).toBe(0);
    for (let i = 0; i < 100 && !out.includes('live wire'); i++)
      await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    const lines = out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.at(-1)).toMatchObject({
      text: 'live wire',
      direction: 'incoming',
      from: ids['alice'],
    });
  }, 30_000);

  it('logs in on a second device and sees the conversation, its own messages included', async () => {
    const login = await cli('alice2', ['login', 'alice']);
    expect(login.code).toBe(0);
    const history = await cli('alice2', ['history', ids['bob'] ?? '', '--json']);
    const lines = json(history).map((m) => [m['direction'], m['from'], m['text']]);
    // Her own message, sent from the first device, is readable here: it carries a key for her too.
    expect(lines).toContainEqual(['outgoing', ids['alice'], SECRET_TEXT]);
    expect(lines).toContainEqual(['incoming', ids['bob'], 'received, over']);
    expect(lines.findIndex((line) => line[2] === SECRET_TEXT)).toBeLessThan(
      lines.findIndex((line) => line[2] === 'received, over'),
    );
  }, 60_000);

  it('exits 1 with one clear line for a wrong password, and 2 for a usage error', async () => {
    const wrong = await cli('alice', ['history', ids['bob'] ?? ''], 'not the password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    expect(wrong.stderr).toMatch(/Wrong password/);
    const usage = await runCli(['send', '--home', home('alice')]);
    expect(usage.code).toBe(2);
    const nobody = await cli('alice', ['send', 'nobody-we-know', 'hi']);
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toMatch(/No account "nobody-we-know" on this relay/);
    const malformed = await cli('alice', ['send', 'Not A Name!', 'hi']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(
      /not a 64-hex identifier, an identifier#fingerprint, an alias/,
    );
    const noPassword = await runCli([
      'history',
      ids['bob'] ?? '',
      '--home',
      home('alice'),
      '--server',
      daemon.url,
    ]);
    expect(noPassword.code).toBe(2);
  }, 30_000);

  it('refuses a wrong password at login on a new device, and a malformed username before asking for a password', async () => {
    const wrong = await cli('alice-elsewhere', ['login', 'alice'], 'not the password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr.trim().split('\n')).toHaveLength(1);
    await expect(stat(join(home('alice-elsewhere'), 'profile.json'))).rejects.toThrow(/ENOENT/);
    // No password on stdin: the username is refused first, as a usage error.
    const malformed = await runCli(['register', 'Not A Name!', '--home', home('nobody')], {
      env: { METACHAT_SERVER: daemon.url },
    });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/username may contain only/);
  }, 30_000);

  it('without a terminal, the chat screen exits 2 and points to the scriptable commands', async () => {
    for (const args of [[], ['chat', ids['bob'] ?? '']]) {
      const result = await runCli([...args, '--home', home('alice'), '--server', daemon.url]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/terminal/);
      expect(result.stderr).toMatch(/send.*history.*listen/);
    }
    const version = await runCli(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 30_000);

  it('shows both sides the same safety number, and accepts an alias as an address', async () => {
    const fromAlice = json(await cli('alice', ['verify', ids['bob'] ?? '', '--json']))[0];
    const fromBob = json(await cli('bob', ['verify', ids['alice'] ?? '', '--json']))[0];
    expect(fromAlice?.['safetyNumber']).toMatch(/^\d{5}( \d{5}){11}$/);
    expect(fromAlice?.['safetyNumber']).toBe(fromBob?.['safetyNumber']);
    expect(fromAlice?.['state']).toBe('pinned');
    // A fingerprint given out of band with the address is a verification too.
    const vouched = `${ids['bob'] ?? ''}#${fingerprints['bob'] ?? ''}`;
    expect((await cli('alice', ['send', vouched, 'fingerprint checked'])).code).toBe(0);
    expect(json(await cli('alice', ['verify', ids['bob'] ?? '', '--json']))[0]).toMatchObject({
      state: 'verified',
    });
    expect((await cli('alice', ['alias', ids['bob'] ?? '', 'bobby'])).code).toBe(0);
    expect((await cli('alice', ['send', 'bobby', 'by nickname'])).code).toBe(0);
  }, 60_000);

  it('verify pins a first-contact key, refuses --trust before a number was shown, and a given fingerprint verifies', async () => {
    const carol = json(await cli('carol', ['register', 'carol', '--json']))[0] ?? {};
    const [carolId, carolFp] = [String(carol['id']), String(carol['fingerprint'])];
    const early = await cli('bob', ['verify', carolId, '--trust']);
    expect(early.code).toBe(2);
    expect(early.stderr).toMatch(/Compare the safety number first/);
    expect(json(await cli('bob', ['verify', carolId, '--json']))[0]).toMatchObject({
      state: 'pinned',
      fingerprint: carolFp,
    });
    expect(json(await cli('bob', ['verify', carolId, '--trust', '--json']))[0]).toMatchObject({
      state: 'verified',
    });
    expect(
      json(await cli('alice', ['verify', `${carolId}#${carolFp}`, '--json']))[0],
    ).toMatchObject({
      state: 'verified',
    });
    const wrongFp = await cli('alice', ['verify', `${carolId}#${'0'.repeat(64)}`]);
    expect(wrongFp.code).toBe(2);
    // A key pinned by a first message was never shown: --trust waits for verify to show it.
    const dave = json(await cli('dave', ['register', 'dave', '--json']))[0] ?? {};
    const daveId = String(dave['id']);
    expect((await cli('bob', ['send', daveId, 'hi dave'])).code).toBe(0);
    expect((await cli('bob', ['verify', daveId, '--trust'])).code).toBe(2);
    expect((await cli('bob', ['verify', daveId])).code).toBe(0);
    expect((await cli('bob', ['verify', daveId, '--trust'])).code).toBe(0);
    const self = await cli('bob', ['verify', ids['bob'] ?? '']);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/your own identifier/);
  }, 90_000);

  it('refuses to send when the relay serves a different key for a pinned peer', async () => {
    const keyFile = join(dataDir, 'keys', `${ids['bob'] ?? ''}.json`);
    const original = await readFile(keyFile, 'utf8');
    const forgedKey = (await generateKeyPair()).publicKey;
    const forged = {
      ...(JSON.parse(original) as Record<string, unknown>),
      publicKey: forgedKey.encoded,
    };
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await writeFile(keyFile, JSON.stringify(forged));
    daemon = await startDaemon();
    const result = await cli('alice', ['send', ids['bob'] ?? '', 'this must not be sent']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/key of bobby changed/);
    // The number to compare is the new key's, and the pinned one is named beside it.
    const changed = json(await cli('alice', ['verify', 'bobby', '--json']))[0];
    const aliceKey = (
      JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
        publicKey: string;
      }
    ).publicKey;
    expect(changed).toMatchObject({
      state: 'changed',
      fingerprint: forgedKey.fingerprint,
      pinnedFingerprint: fingerprints['bob'],
    });
    expect(changed?.['safetyNumber']).toBe(
      safetyNumber(
        { identifier: ids['alice'] ?? '', publicKey: importPublicKey(aliceKey) },
        { identifier: ids['bob'] ?? '', publicKey: forgedKey },
      ),
    );
    const human = await cli('alice', ['verify', 'bobby']);
    expect(human.stdout).toMatch(/WARNING: the relay now serves a different key for bobby/);
    expect((await cli('alice', ['send', 'bobby', 'still refused'])).code).toBe(1);
    expect((await cli('alice', ['verify', 'bobby', '--trust'])).code).toBe(0);
    expect(json(await cli('alice', ['verify', 'bobby', '--json']))[0]).toMatchObject({
      state: 'verified',
      fingerprint: forgedKey.fingerprint,
    });
    expect((await cli('alice', ['send', 'bobby', 'after re-verification'])).code).toBe(0);
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    await writeFile(keyFile, original);
    daemon = await startDaemon();
  }, 60_000);

  it('leaves no message text, username or password anywhere in the daemon’s data directory or logs', async () => {
    // A distinctive name can be looked for bare, and in the encodings a careless relay might use.
    const name = 'quartz-zebra-7731';
    const registered = await cli(name, ['register', name, '--json']);
    expect(registered.code).toBe(0);
    expect((await cli(name, ['send', ids['bob'] ?? '', 'a distinctive secret'])).code).toBe(0);
    expect((await cli('bob', ['history', String(json(registered)[0]?.['id'])])).stdout).toContain(
      `${name}: a distinctive secret`,
    );
    const files = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    );
    expect(files.length).toBeGreaterThan(3);
    const places = [
      ...(await Promise.all(
        files.map(async (entry) => ({
          place: entry.name,
          content: await readFile(join(entry.parentPath, entry.name), 'utf8'),
        })),
      )),
      ...lifetimes.map((lifetime, i) => ({ place: `daemon log ${i}`, content: lifetime.stderr() })),
    ];
    const secrets = [
      SECRET_TEXT,
      'received, over',
      'a distinctive secret',
      PASSWORD,
      'this must not be sent',
      name,
      Buffer.from(name).toString('base64').replace(/=+$/, ''),
      Buffer.from(name).toString('hex'),
      // Short names are looked for as JSON strings: three letters occur by chance inside base64.
      '"alice"',
      '"bob"',
    ];
    for (const { place, content } of places) {
      for (const secret of secrets) {
        expect({
          place,
          secret,
          found: content.toLowerCase().includes(secret.toLowerCase()),
        }).toEqual({
          place,
          secret,
          found: false,
        });
      }
    }
  }, 60_000);
});
