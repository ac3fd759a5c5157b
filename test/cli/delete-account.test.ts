import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

const PASSWORD = 'the one password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;

function home(name: string): string {
  return join(root, name);
}

async function cli(name: string, args: string[], input = `${PASSWORD}\n`): Promise<CliResult> {
  return runCli([...args, '--home', home(name), '--server', daemon.url, '--password-stdin'], {
    input,
  });
}

/** The error code a `--json` run reported (its report is a JSON line; the notice lines are not). */
function codeOf(result: CliResult): string {
  const json = `${result.stderr}\n${result.stdout}`
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .join('\n');
  const [report] = jsonLines(json);
  const error = (report?.['error'] ?? report) as Record<string, unknown> | undefined;
  return String(error?.['code']);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
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

describe('metachat delete-account', () => {
  it('says what goes and what stays, needs the typed username and the password, then deletes on the relay and here', async () => {
    expect((await cli('bob', ['register', 'bob'])).code).toBe(0);
    expect((await cli('alice', ['register', 'alice'])).code).toBe(0);
    expect((await cli('bob-laptop', ['login', 'bob'])).code).toBe(0);
    expect((await cli('alice', ['send', 'bob', 'hello bob'])).code).toBe(0);
    expect((await cli('bob', ['send', 'alice', 'hello alice'])).code).toBe(0);

    // No terminal and no --confirm: the notice, then nothing is deleted (a usage error).
    const unconfirmed = await cli('bob', ['delete-account']);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain('does NOT remove the messages');
    expect(unconfirmed.stderr).toContain('wrapped private keys');
    expect(unconfirmed.stderr).toContain('--confirm bob');
    const mistyped = await cli('bob', ['delete-account', '--confirm', 'bobby']);
    expect(mistyped.code).toBe(2);
    expect(mistyped.stderr).toContain('Nothing was deleted');
    const wrongPassword = await cli(
      'bob',
      ['delete-account', '--confirm', 'bob', '--json'],
      'not the password\n',
    );
    expect(wrongPassword.code).toBe(1);
    expect(codeOf(wrongPassword)).toBe('WRONG_PASSWORD');
    expect((await cli('bob', ['send', 'alice', 'still here'])).code).toBe(0);

    const deleted = await cli('bob', ['delete-account', '--confirm', 'Bob', '--json']);
    expect(deleted.code).toBe(0);
    expect(jsonLines(deleted.stdout)[0]).toMatchObject({ deleted: true, profileRemoved: true });
    expect(await exists(join(home('bob'), 'profile.json'))).toBe(false);

    // Bob's other device can no longer authenticate; the name cannot be logged in to or taken.
    const laptop = await cli('bob-laptop', ['send', 'alice', 'from the laptop', '--json']);
    expect(laptop.code).toBe(1);
    expect(codeOf(laptop)).toBe('AUTH_PROOF_INVALID');
    const login = await cli('bob-again', ['login', 'bob', '--json']);
    expect(login.code).toBe(1);
    expect(codeOf(login)).toBe('LOGIN_FAILED');
    const taken = await cli('bob-new', ['register', 'bob', '--json']);
    expect(taken.code).toBe(1);
    expect(codeOf(taken)).toBe('IDENTIFIER_RETIRED');

    // Alice, who pinned bob's key, is told the account is gone: nothing is sent.
    const toBob = await cli('alice', ['send', 'bob', 'are you there?', '--json']);
    expect(toBob.code).toBe(1);
    expect(codeOf(toBob)).toBe('ACCOUNT_DELETED');
    expect(toBob.stderr).toMatch(
      /asked to delete their account on \d{4}-\d\d-\d\d \(signed by the key pinned here\)/,
    );

    // Her history with bob still reads, his packets checked under the key she pinned.
    const read = await cli('alice', ['history', 'bob', '--json']);
    expect(read.code).toBe(0);
    const lines = jsonLines(read.stdout);
    expect(lines.map((line) => line['warning'])).toEqual([undefined, undefined, undefined]);
    expect(lines.map((line) => line['text'])).toEqual(['hello bob', 'hello alice', 'still here']);
  }, 240_000);
});
