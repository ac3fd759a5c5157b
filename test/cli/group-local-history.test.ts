import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import { jsonLines } from '../hostile/cli-world.js';

const PASSWORD = 'the group history password';
let daemon: DaemonProcess;
let dataDir: string;
let root: string;
const ids: Record<string, string> = {};

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

/** The messages of JSON lines as `sender: text`, with (edited) where it was. */
function said(lines: Record<string, unknown>[]): string[] {
  return lines
    .filter((l) => 'text' in l)
    .map(
      (l) =>
        `${String(l['sender'])}: ${String(l['text'])}${l['edited'] === true ? ' (edited)' : ''}`,
    );
}

beforeAll(async () => {
  dataDir = await tempDir();
  root = await tempDir('metachat-group-local-history-');
  daemon = await spawnDaemon(dataDir);
  for (const name of ['alice', 'bob', 'carol']) {
    const [out] = await ok(name, ['register', name]);
    ids[name] = String(out?.['id']);
  }
}, 120_000);

afterAll(async () => {
  await killAllDaemons();
  await rm(dataDir, { recursive: true, force: true });
  await rm(root, { recursive: true, force: true });
});

describe('group messages in the local history', () => {
  let group = '';

  it('keeps what history shows; an edit read alone applies to its target on an older page', async () => {
    const [created] = await ok('alice', ['group', 'create', 'team', 'bob', 'carol']);
    group = String(created?.['group']);
    const [plan] = await ok('alice', ['send', 'group:team', 'lunch at noon on Friday']);
    await ok('carol', ['send', `group:${group}`, 'count me in']);
    // Bob holds nothing of the group yet: he names it by its id, and his device fetches its log.
    const first = await ok('bob', ['history', `group:${group}`]);
    expect(said(first)).toEqual(['alice: lunch at noon on Friday', 'carol: count me in']);
    const afterCarol = Number(first.filter((l) => 'text' in l).at(-1)?.['seq']) + 1;
    await ok('alice', ['edit', 'group:team', String(plan?.['id']), 'lunch at one on Friday']);
    // Bob reads only the edit (the newest record): his history applies it to the kept message.
    expect(said(await ok('bob', ['history', 'group:team', '--limit', '1']))).toEqual([]);
    // The relay's page before the edit lacks it; the local history applies it all the same.
    const older = await ok('bob', ['history', 'group:team', '--before', String(afterCarol)]);
    expect(said(older)).toEqual(['alice: lunch at one on Friday (edited)', 'carol: count me in']);
    await ok('carol', ['send', 'group:team', 'see you']);
    expect(said(await ok('bob', ['history', 'group:team']))).toEqual([
      'alice: lunch at one on Friday (edited)',
      'carol: count me in',
      'carol: see you',
    ]);
  }, 240_000);

  it('search finds group messages, naming the group and the sender; --peer group:<g> keeps one group', async () => {
    const found = await ok('bob', ['search', 'friday']);
    expect(found).toEqual([
      expect.objectContaining({
        group,
        name: 'team',
        from: ids['alice'],
        sender: 'alice',
        text: 'lunch at one on Friday',
        edited: true,
        peer: `group:${group}`,
      }),
    ]);
    expect((await ok('bob', ['search', 'see', '--peer', `group:${group}`])).length).toBe(1);
    expect(await ok('bob', ['search', 'see', '--peer', 'alice'])).toEqual([]);
    const human = await cli('bob', ['search', 'count', '--peer', 'group:team']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/\[team\] carol: count me in/);
    expect(human.stdout).toContain(`metachat history group:${group} --around`);
  }, 120_000);

  it('history group:<g> works offline from the local history, and says it is offline', async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    const offline = await cli('bob', ['history', 'group:team']);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toMatch(/\[team\] alice: lunch at one on Friday \(edited\)/);
    expect(offline.stdout).toMatch(/\[team\] carol: see you/);
    expect(offline.stderr).toMatch(/offline: .*Shown: the 3 messages this device holds/);
    const json = jsonLines((await cli('bob', ['history', 'group:team', '--json'])).stdout);
    expect(said(json)).toEqual([
      'alice: lunch at one on Friday (edited)',
      'carol: count me in',
      'carol: see you',
    ]);
    expect(json.at(0)).toMatchObject({ group, name: 'team', from: ids['alice'], held: true });
    expect(json.at(-1)).toMatchObject({ offline: true, cached: 3, more: false });
    // Paging back offline: the older messages this device keeps, and where to go on from.
    const paged = await cli('bob', ['history', 'group:team', '--limit', '1', '--before', '9999']);
    expect(paged.stdout).toMatch(/carol: see you/);
    expect(paged.stderr).toMatch(/older ones: --before \d+/);
  }, 120_000);
});
