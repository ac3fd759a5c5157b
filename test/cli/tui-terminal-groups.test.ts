import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD as PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

let term: TmuxTerminal;
let daemon: DaemonProcess;
const homes: Record<string, string> = {};
const ids: Record<string, string> = {};
let group = '';

/** A CLI command that must succeed: its stdout. */
async function cli(name: string, args: string[]): Promise<string> {
  const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
  const result = await runCli(['--home', homes[name] ?? '', ...args], { env });
  if (result.code !== 0) throw new Error(`${name} ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

/** Starts `metachat chat` for `name` in a tmux session of that name, 100x24. */
function chat(name: string): void {
  term.stderrFile = join(homes[name] ?? '', 'tui-stderr');
  term.tmux(
    'new-session',
    '-d',
    '-s',
    name,
    '-x',
    '100',
    '-y',
    '24',
    '-c',
    ROOT,
    '-e',
    `METACHAT_PASSWORD=${PASSWORD}`,
    '-e',
    `METACHAT_SERVER=${daemon.url}`,
    '-e',
    'CI=true',
    `${cliCommandLine(['--home', homes[name] ?? '', 'chat'])} 2> '${term.stderrFile}'; sleep 30`,
  );
}

const waitFor = (target: string, predicate: (text: string) => boolean, what: string, ms = 30_000) =>
  term.waitForScreen(predicate, what, { ms, target });

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-groups-test-${String(process.pid)}`, 'bob');
  daemon = await spawnDaemon(await tempDir());
  for (const name of ['alice', 'bob', 'carol']) {
    homes[name] = await tempDir('metachat-home-');
    ids[name] = (JSON.parse(await cli(name, ['register', name, '--json'])) as { id: string }).id;
  }
  const created = await cli('alice', ['group', 'create', 'team', 'bob', '--json']);
  group = (JSON.parse(created) as { group: string }).group;
  await cli('alice', ['group', 'add', 'team', 'carol']);
  await cli('alice', ['send', 'group:team', 'hello team 👋']);
}, 120_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('groups in the chat screen (tmux)', () => {
  it('lists the group, opens it with its changes and senders named, sends a reply carol reads, shows the members', async () => {
    chat('bob');
    const inbox = await waitFor(
      'bob',
      (s) => s.includes('# team') && s.includes('alice: hello team 👋'),
      'the group in the inbox with its last message',
    );
    expect(inbox).toMatch(/# team\s+\(1 new\)/);
    term.tmux('send-keys', '-t', 'bob', 'Enter');
    const opened = await waitFor(
      'bob',
      // Bob never met carol: she is named by her short id until her username reaches him.
      (s) => /alice added \S+/.test(s) && /alice\s+hello team 👋/.test(s),
      'the conversation with its membership changes',
    );
    expect(opened).toContain('alice created the group with me');
    term.typeLine('reply from bob 🎉', 'bob');
    await waitFor('bob', (s) => /me\s+reply from bob 🎉 ✓/.test(s), 'my reply stored');
    // Carol, who ran no group command, names it by its id.
    expect(await cli('carol', ['history', `group:${group}`])).toMatch(/bob: reply from bob 🎉/);
    // A bidi override is never sent: the editor drops it or the status line refuses the text.
    term.typeLine('abc\u202edef', 'bob');
    const bidi = await waitFor(
      'bob',
      (s) => s.includes('control characters') || /me\s+abcdef/.test(s),
      'the bidi mark neutralised',
    );
    expect(bidi).not.toContain('\u202e');
    term.tmux('send-keys', '-t', 'bob', 'C-g');
    const members = await waitFor('bob', (s) => s.includes('Members (3)'), 'the member list');
    expect(members).toMatch(/alice\s+admin/);
    expect(members).toMatch(/me\s+· me/);
    term.tmux('send-keys', '-t', 'bob', 'C-g');
    await waitFor('bob', (s) => s.includes('reply from bob'), 'the messages again');
    // A change made while the screen is open is a line of its own.
    await cli('alice', ['group', 'rename', 'team', 'crew']);
    await waitFor('bob', (s) => s.includes('alice renamed the group to crew'), 'the rename line');
    term.tmux('send-keys', '-t', 'bob', 'Escape');
    await waitFor('bob', (s) => s.includes('# crew'), 'the renamed group in the inbox');
    // A group bob is put in while the screen is open shows before its first message.
    await cli('alice', ['group', 'create', 'side', 'bob']);
    await waitFor('bob', (s) => s.includes('# side'), 'the new group in the inbox');
    term.tmux('send-keys', '-t', 'bob', 'C-c');
  }, 180_000);

  it('a member whose key changed blocks the send from the chat screen, named', async () => {
    const alicePublic = (
      JSON.parse(await readFile(join(homes['alice'] ?? '', 'profile.json'), 'utf8')) as {
        publicKey: string;
      }
    ).publicKey;
    const path = join(homes['carol'] ?? '', 'profile.json');
    const profile = JSON.parse(await readFile(path, 'utf8')) as {
      peers: Record<string, Record<string, unknown>>;
    };
    const bob = ids['bob'] ?? '';
    profile.peers[bob] = { ...profile.peers[bob], publicKey: alicePublic };
    await writeFile(path, JSON.stringify(profile));
    chat('carol');
    // Bob's messages do not verify under the key carol now holds for him: refused, counted.
    const inbox = await waitFor(
      'carol',
      (s) => s.includes('# team') && s.includes('refused'),
      'the group in carol’s inbox',
    );
    expect(inbox).not.toContain('reply from bob');
    term.tmux('send-keys', '-t', 'carol', 'Enter');
    await waitFor('carol', (s) => s.includes('hello team'), 'the conversation');
    term.typeLine('are you there?', 'carol');
    const blocked = await waitFor(
      'carol',
      (s) => s.includes('bob blocks sending to "'),
      'the send blocked, naming bob',
    );
    expect(blocked).toMatch(/are you there\?\s+✗ failed: bob blocks/);
    expect(blocked).toContain('KEY CHANGED: bob');
    expect(await cli('alice', ['history', `group:${group}`])).not.toMatch(/are you there/);
    term.tmux('send-keys', '-t', 'carol', 'C-c');
  }, 120_000);
});
