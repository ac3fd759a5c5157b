import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { chmod, copyFile, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { identifierFromUsername } from '../../src/core/index.js';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'another horse battery';
// Nothing listens there: the relay is out of reach.
const UNREACHABLE = 'http://127.0.0.1:9';
// Each test runs several CLI processes, each deriving the password keys (PBKDF2 600,000).
jest.setTimeout(120_000);

let daemon: DaemonProcess;
let dataDir: string;
let root: string;
const bob = identifierFromUsername('bob');

function home(name: string): string {
  return join(root, name);
}

async function cli(
  name: string,
  args: string[],
  password = PASSWORD,
  server = daemon.url,
): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', server, '--password-stdin'], {
    input: `${password}\n`,
  });
}

function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function sent(
  name: string,
  peer: string,
  text: string,
): Promise<{ id: string; seq: number }> {
  const result = await cli(name, ['send', peer, text, '--json']);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as { id: string; seq: number };
}

let lunch: { id: string; seq: number };

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-homes-');
  daemon = await spawnDaemon(dataDir);
  expect((await cli('alice', ['register', 'alice'])).code).toBe(0);
  expect((await cli('bob', ['register', 'bob'])).code).toBe(0);
  await sent('bob', 'alice', 'hello alice, lunch tomorrow?');
  lunch = await sent('alice', 'bob', 'yes, lunch at noon at the usual café');
  await sent('bob', 'alice', 'see you at the usual place');
  await sent('bob', 'alice', 'the vault code is 4711 zebra');
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('the local history through the CLI', () => {
  it('keeps what history verified, encrypted at rest: the file holds no text', async () => {
    const shown = await cli('alice', ['history', 'bob', '--json']);
    expect(shown.code).toBe(0);
    expect(jsonLines(shown.stdout).map((line) => line['text'])).toEqual([
      'hello alice, lunch tomorrow?',
      'yes, lunch at noon at the usual café',
      'see you at the usual place',
      'the vault code is 4711 zebra',
    ]);
    const files = (await readdir(home('alice'))).filter((name) => name.startsWith('history.db'));
    expect(files).toContain('history.db');
    for (const name of files) {
      const bytes = await readFile(join(home('alice'), name));
      for (const word of ['zebra', 'vault', 'lunch', 'alice', bob])
        expect(bytes.includes(word)).toBe(false);
    }
    expect((await stat(join(home('alice'), 'history.db'))).mode & 0o777).toBe(0o600);
    // The profile holds the history key only wrapped.
    const profile = JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
      historyKey?: { iv: string; ct: string };
    };
    expect(profile.historyKey).toEqual({ iv: expect.any(String), ct: expect.any(String) });
  });

  it('history offline: prints from the local history and says it is offline', async () => {
    const offline = await cli('alice', ['history', 'bob'], PASSWORD, UNREACHABLE);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/lunch tomorrow\?/);
    expect(offline.stdout).toMatch(/vault code/);
    expect(offline.stderr).toMatch(/offline: Cannot reach the relay at http:\/\/127\.0\.0\.1:9/);
    const json = await cli(
      'alice',
      ['history', 'bob', '--json', '--limit', '2'],
      PASSWORD,
      UNREACHABLE,
    );
    expect(json.code).toBe(0);
    const lines = jsonLines(json.stdout);
    expect(lines.slice(0, -1).map((line) => line['text'])).toEqual([
      'see you at the usual place',
      'the vault code is 4711 zebra',
    ]);
    expect(lines.at(-1)).toEqual(expect.objectContaining({ offline: true, cached: 2, more: true }));
  });

  it('a history file others may read is made 0600 when a command opens it, said once', async () => {
    const path = join(home('alice'), 'history.db');
    await chmod(path, 0o644);
    const fixed = await cli('alice', ['history', 'bob'], PASSWORD, UNREACHABLE);
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(/vault code/);
    const said = fixed.stderr.split('\n').filter((l) => l.includes('open to other users'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(`${path} (mode 0644); made 0600 (owner only)`);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const again = await cli('alice', ['history', 'bob'], PASSWORD, UNREACHABLE);
    expect(again.stderr).not.toMatch(/open to other users/);
  });

  it('online, history pages beyond what the device holds through the relay, and catches up', async () => {
    await sent('bob', 'alice', 'a newer message the cache lacks');
    const caught = await cli('alice', ['history', 'bob', '--json']);
    expect(caught.code).toBe(0);
    const texts = jsonLines(caught.stdout).map((line) => line['text']);
    expect(texts.at(-1)).toBe('a newer message the cache lacks');
    expect(new Set(texts).size).toBe(texts.length);
    // A fresh device holds nothing yet: its page comes from the relay, and is kept.
    expect((await cli('alice-laptop', ['login', 'alice'])).code).toBe(0);
    const paged = await cli('alice-laptop', [
      'history',
      'bob',
      '--json',
      '--limit',
      '4',
      '--before',
      String(lunch.seq + 1),
    ]);
    // (The page also holds the username hellos, which are no lines.)
    expect(jsonLines(paged.stdout).map((line) => line['text'])).toEqual([
      'hello alice, lunch tomorrow?',
      'yes, lunch at noon at the usual café',
    ]);
    const found = await cli('alice-laptop', ['search', 'lunch', '--json']);
    expect(jsonLines(found.stdout).map((line) => line['text'])).toEqual([
      'yes, lunch at noon at the usual café',
      'hello alice, lunch tomorrow?',
    ]);
  });

  it('send keeps what it sent', async () => {
    await sent('alice', 'bob', 'kept from send: pineapple');
    const found = await cli('alice', ['search', 'pineapple', '--json']);
    expect(found.code).toBe(0);
    const [hit] = jsonLines(found.stdout);
    expect(hit).toEqual(
      expect.objectContaining({ peer: bob, direction: 'outgoing', name: expect.any(String) }),
    );
  });

  it('search: newest first, with peer, time, seq and id; --around opens the conversation there', async () => {
    const found = await cli('alice', ['search', 'lunch', '--json']);
    expect(found.code).toBe(0);
    const hits = jsonLines(found.stdout);
    expect(hits.map((hit) => hit['text'])).toEqual([
      'yes, lunch at noon at the usual café',
      'hello alice, lunch tomorrow?',
    ]);
    expect(hits[0]).toEqual(
      expect.objectContaining({
        peer: bob,
        id: lunch.id,
        seq: lunch.seq,
        time: expect.any(Number),
      }),
    );
    const human = await cli('alice', ['search', 'LUNCH', '--peer', 'bob']);
    expect(human.stdout).toMatch(new RegExp(`--around ${lunch.id}`));
    const around = await cli(
      'alice',
      ['history', 'bob', '--around', lunch.id, '--limit', '3', '--json'],
      PASSWORD,
      UNREACHABLE,
    );
    expect(around.code).toBe(0);
    expect(
      jsonLines(around.stdout)
        .slice(0, 3)
        .map((line) => line['text']),
    ).toEqual([
      'hello alice, lunch tomorrow?',
      'yes, lunch at noon at the usual café',
      'see you at the usual place',
    ]);
    const unknown = await cli('alice', ['history', 'bob', '--around', 'f'.repeat(32)]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No message/);
  });

  it('search input cannot inject FTS5 syntax; odd input gives results or a typed error', async () => {
    for (const words of [
      ['NEAR(', 'lunch'],
      ['"'],
      ['*'],
      ['text:zebra'],
      ['\u202ezebra\u200f'],
      ['🎉'],
    ]) {
      const result = await cli('alice', ['search', ...words, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
    }
    const bidi = await cli('alice', ['search', '\u202ezebra\u200f', '--json']);
    expect(jsonLines(bidi.stdout).map((hit) => hit['text'])).toEqual([
      'the vault code is 4711 zebra',
    ]);
    const huge = await cli('alice', ['search', 'x'.repeat(5000), '--json']);
    expect(huge.code).toBe(2);
    expect(huge.stderr).toMatch(/"code":"SEARCH_TOO_LONG"/);
  });

  it('a wrong password opens nothing', async () => {
    const wrong = await cli('alice', ['search', 'lunch', '--json'], 'not the password');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/"code":"WRONG_PASSWORD"/);
    expect(wrong.stdout).toBe('');
  });

  it('passwd wraps the history key again: the history opens with the new password, not the old', async () => {
    const changed = await runCli(
      ['passwd', '--home', home('alice'), '--server', daemon.url, '--password-stdin'],
      { input: `${PASSWORD}\n${NEW_PASSWORD}\n` },
    );
    expect(changed.code).toBe(0);
    const found = await cli('alice', ['search', 'zebra', '--json'], NEW_PASSWORD);
    expect(found.code).toBe(0);
    expect(jsonLines(found.stdout).map((hit) => hit['text'])).toEqual([
      'the vault code is 4711 zebra',
    ]);
    const old = await cli('alice', ['search', 'zebra', '--json'], PASSWORD);
    expect(old.code).toBe(1);
    expect(old.stdout).toBe('');
  });

  it('a history made under another login is HISTORY_LOCKED; a damaged one HISTORY_CORRUPT; neither is wiped', async () => {
    // Another device of alice's: its own key. Her first device's file copied in does not open.
    await copyFile(join(home('alice'), 'history.db'), join(home('alice-laptop'), 'history.db'));
    await rm(join(home('alice-laptop'), 'history.db-wal'), { force: true });
    await rm(join(home('alice-laptop'), 'history.db-shm'), { force: true });
    const locked = await cli('alice-laptop', ['search', 'zebra', '--json']);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/"code":"HISTORY_LOCKED"/);
    expect(locked.stderr).toMatch(/move it away/);
    // history goes on without it, from the relay, and says so.
    const online = await cli('alice-laptop', ['history', 'bob']);
    expect(online.code).toBe(0);
    expect(online.stderr).toMatch(/does not open with this profile's key/);
    expect(online.stdout).toMatch(/zebra/);

    // Damage every page after the first of alice's own file.
    const path = join(home('alice'), 'history.db');
    const size = (await stat(path)).size;
    const file = await open(path, 'r+');
    for (let offset = 4096 + 64; offset < size; offset += 4096)
      await file.write(Buffer.from([1, 2, 3, 4]), 0, 4, offset);
    await file.close();
    const damaged = await readFile(path);
    const corrupt = await cli('alice', ['search', 'zebra', '--json'], NEW_PASSWORD);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toMatch(/"code":"HISTORY_CORRUPT"/);
    expect((await readFile(path)).subarray(0, damaged.length).equals(damaged)).toBe(true);
  });

  it('logout removes the local history with the profile', async () => {
    expect((await cli('alice-laptop', ['logout'])).code).toBe(0);
    const left = (await readdir(home('alice-laptop'))).filter((name) => name.startsWith('history'));
    expect(left).toEqual([]);
  });
});
