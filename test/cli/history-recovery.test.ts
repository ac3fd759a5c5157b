import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';

// A login over a profile whose history was made under another password (changed on another
// device) or another login keeps that history: carried on when it opens, else kept aside and
// recoverable with history-unlock; never HISTORY_LOCKED for good, never deleted.

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'another horse battery';
const UNREACHABLE = 'http://127.0.0.1:9';
jest.setTimeout(120_000);

let daemon: DaemonProcess;
let dataDir: string;
let root: string;

function home(name: string): string {
  return join(root, name);
}

async function cli(
  name: string,
  args: string[],
  input = `${PASSWORD}\n`,
  server = daemon.url,
): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', server, '--password-stdin'], {
    input,
  });
}

/** The texts the local history alone holds with bob (the relay out of reach). */
async function offlineTexts(name: string, password: string): Promise<string[]> {
  const result = await cli(name, ['history', 'bob', '--json'], `${password}\n`, UNREACHABLE);
  expect(result.stderr).not.toMatch(/HISTORY_LOCKED|does not open/);
  return result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => (JSON.parse(line) as { text?: string }).text)
    .filter((text): text is string => text !== undefined);
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-history-recovery-');
  daemon = await spawnDaemon(dataDir);
  expect((await cli('alice', ['register', 'alice'])).code).toBe(0);
  expect((await cli('bob', ['register', 'bob'])).code).toBe(0);
  expect((await cli('bob', ['send', 'alice', 'kept across logins'])).code).toBe(0);
  expect((await cli('alice', ['history', 'bob'])).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('the local history across logins', () => {
  it('login --force again with the same password carries the history on', async () => {
    const again = await cli('alice', ['login', 'alice', '--force']);
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/kept aside/);
    expect(await offlineTexts('alice', PASSWORD)).toEqual(['kept across logins']);
  });

  it('after passwd on another device, login --force keeps the old history aside; history-unlock brings it back', async () => {
    expect((await cli('alice-laptop', ['login', 'alice'])).code).toBe(0);
    const changed = await cli('alice-laptop', ['passwd'], `${PASSWORD}\n${NEW_PASSWORD}\n`);
    expect(changed.code).toBe(0);
    const login = await cli('alice', ['login', 'alice', '--force'], `${NEW_PASSWORD}\n`);
    expect(login.code).toBe(0);
    expect(login.stderr).toMatch(
      /made under an older password of this account .*kept aside as \S+history\.db\.locked-\d{4}-\d\d-\d\d, with its wrapped key in .*nothing deleted.*metachat history-unlock/,
    );
    const files = await readdir(home('alice'));
    const aside = files.find((name) => /^history\.db\.locked-[\d-]+$/.test(name)) ?? '';
    expect(files).toContain(`${aside}.key.json`);
    // The wrong old password opens nothing; the right one copies the old messages in.
    const path = join(home('alice'), aside);
    const wrong = await cli(
      'alice',
      ['history-unlock', path, '--json'],
      `${NEW_PASSWORD}\nnot the old one\n`,
    );
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/"code":"HISTORY_LOCKED"/);
    const unlocked = await cli(
      'alice',
      ['history-unlock', path, '--json'],
      `${NEW_PASSWORD}\n${PASSWORD}\n`,
    );
    expect(unlocked.code).toBe(0);
    expect(JSON.parse(unlocked.stdout)).toMatchObject({ read: 1, copied: 1 });
    expect(await offlineTexts('alice', NEW_PASSWORD)).toEqual(['kept across logins']);
    // The file aside is left as it was.
    expect(await readdir(home('alice'))).toContain(aside);
    // The new history is not locked: what the relay's pages show is kept in it too.
    expect((await cli('bob', ['send', 'alice', 'after the change'])).code).toBe(0);
    const online = await cli('alice', ['history', 'bob'], `${NEW_PASSWORD}\n`);
    expect(online.code).toBe(0);
    expect(online.stderr).not.toMatch(/HISTORY_LOCKED|does not open/);
    expect(await offlineTexts('alice', NEW_PASSWORD)).toEqual([
      'kept across logins',
      'after the change',
    ]);
  });

  it('login --force as another account keeps the old account’s history aside', async () => {
    const other = await cli('bob-copy', ['login', 'bob']);
    expect(other.code).toBe(0);
    expect((await cli('bob-copy', ['history', 'alice'])).code).toBe(0);
    const replaced = await cli('bob-copy', ['login', 'alice', '--force'], `${NEW_PASSWORD}\n`);
    expect(replaced.code).toBe(0);
    expect(replaced.stderr).toMatch(/made under the account bob, .*kept aside/);
    const search = await cli('bob-copy', ['search', 'anything', '--json'], `${NEW_PASSWORD}\n`);
    expect(search.stderr).not.toMatch(/HISTORY_LOCKED/);
  });
});
