import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

const PASSWORD = 'the editing password';
// Each test runs several CLI processes, each deriving the password keys (PBKDF2 600,000).
jest.setTimeout(180_000);

let daemon: DaemonProcess;
let dataDir: string;
let root: string;

async function cli(name: string, args: string[]): Promise<CliResult> {
  return runCli([...args, '--home', join(root, name), '--server', daemon.url, '--password-stdin'], {
    input: `${PASSWORD}\n`,
  });
}

/** A `--json` command that must succeed: its JSON lines. */
async function ok(name: string, args: string[]): Promise<Record<string, unknown>[]> {
  const result = await cli(name, [...args, '--json']);
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return jsonLines(result.stdout);
}

/** A `--json` command that must fail: its exit code and error code. */
async function refused(
  name: string,
  args: string[],
): Promise<{ exit: number | null; code: string }> {
  const result = await cli(name, [...args, '--json']);
  const line = result.stderr.split('\n').find((l) => l.startsWith('{"error"'));
  const error = jsonLines(line ?? '{}')[0]?.['error'] as { code?: string } | undefined;
  return { exit: result.code, code: String(error?.code) };
}

async function sent(name: string, args: string[]): Promise<string> {
  const [out] = await ok(name, args);
  return String(out?.['id']);
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-edits-homes-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob']) await ok(name, ['register', name]);
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('edits, deletes and replies through the CLI', () => {
  let plan = '';
  let answer = '';

  it('edits a message: both sides show the new text with edited, search finds only it', async () => {
    plan = await sent('alice', ['send', 'bob', 'meet at the harbour']);
    answer = await sent('bob', ['send', 'alice', 'on my way', '--reply-to', plan]);
    const [edit] = await ok('alice', ['edit', 'bob', plan, 'meet at the station']);
    expect(edit?.['target']).toBe(plan);

    for (const [name, peer] of [
      ['bob', 'alice'],
      ['alice', 'bob'],
    ] as const) {
      const lines = await ok(name, ['history', peer]);
      expect(lines.map((l) => [l['id'], l['text'], l['edited'] ?? false])).toEqual([
        [plan, 'meet at the station', true],
        [answer, 'on my way', false],
      ]);
      expect(lines[0]?.['editedAt']).toEqual(expect.any(Number));
      expect(lines[1]).toMatchObject({
        replyTo: plan,
        quote: { state: 'shown', id: plan, excerpt: 'meet at the station' },
      });
    }
    const human = await cli('bob', ['history', 'alice']);
    expect(human.stdout).toMatch(/meet at the station \(edited\)/);
    expect(human.stdout).toMatch(/me: \(reply to alice: "meet at the station"\) on my way/);
    expect(await ok('bob', ['search', 'harbour'])).toEqual([]);
    expect((await ok('bob', ['search', 'station'])).map((l) => l['id'])).toEqual([plan]);
  });

  it("refuses, before sending, an edit of the peer's message, of a message it does not hold, or a bad id", async () => {
    expect(await refused('bob', ['edit', 'alice', plan, 'bob rewrites alice'])).toEqual({
      exit: 1,
      code: 'EDIT_FORBIDDEN',
    });
    expect(await refused('alice', ['delete', 'bob', 'f'.repeat(32)])).toEqual({
      exit: 2,
      code: 'UNKNOWN_MESSAGE',
    });
    expect(await refused('alice', ['edit', 'bob', 'not-an-id', 'x'])).toEqual({
      exit: 2,
      code: 'USAGE',
    });
  });

  it('deletes a message for both sides: "message deleted", gone from search, the reply says so', async () => {
    const [deleted] = await ok('alice', ['delete', 'bob', plan]);
    expect(deleted?.['target']).toBe(plan);
    const lines = await ok('bob', ['history', 'alice']);
    expect(lines[0]).toMatchObject({ id: plan, text: '', deleted: true });
    expect(lines[1]).toMatchObject({ quote: { state: 'deleted', id: plan } });
    expect((await cli('bob', ['history', 'alice'])).stdout).toMatch(/alice: message deleted/);
    expect(await ok('bob', ['search', 'station'])).toEqual([]);
    expect(await refused('alice', ['edit', 'bob', plan, 'too late'])).toEqual({
      exit: 1,
      code: 'MESSAGE_DELETED',
    });
  });

  it('shows a reply to a message this device does not hold as "a message not here"', async () => {
    await sent('bob', ['send', 'alice', 'what about this?', '--reply-to', 'e'.repeat(32)]);
    const last = (await ok('alice', ['history', 'bob'])).at(-1);
    expect(last).toMatchObject({
      text: 'what about this?',
      quote: { state: 'missing', id: 'e'.repeat(32) },
    });
    expect((await cli('alice', ['history', 'bob'])).stdout).toMatch(
      /\(reply to a message not here\) what about this\?/,
    );
  });

  it('edits and deletes in a group', async () => {
    const [created] = await ok('alice', ['group', 'create', 'crew', 'bob']);
    const group = `group:${String(created?.['group'])}`;
    const first = await sent('alice', ['send', group, 'dinner at 7']);
    const second = await sent('alice', ['send', group, 'bring wine']);
    await ok('alice', ['edit', group, first, 'dinner at 8']);
    await ok('alice', ['delete', group, second]);
    await ok('bob', ['edit', group, first, 'bob was here']);
    const result = await cli('bob', ['history', group, '--json']);
    const lines = jsonLines(result.stdout);
    expect(
      lines.filter((l) => 'text' in l).map((l) => [l['text'], l['edited'], l['deleted']]),
    ).toEqual([
      ['dinner at 8', true, undefined],
      ['', undefined, true],
    ]);
    expect(lines.find((l) => 'warning' in l)).toMatchObject({ code: 'EDIT_FORBIDDEN' });
  });
});
