import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  aliceAndBob,
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD as PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

let term: TmuxTerminal;
let daemon: DaemonProcess;
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };

const tmux = (...args: string[]): string => term.tmux(...args);
const waitForScreen = (
  predicate: (text: string) => boolean,
  what: string,
  ms = 20_000,
  target = 'tui',
) => term.waitForScreen(predicate, what, { ms, target });

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-test-${String(process.pid)}`, 'tui');
  daemon = await spawnDaemon(await tempDir());
  ({ homes, ids } = await aliceAndBob(daemon));
}, 60_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('metachat chat in a real terminal (tmux)', () => {
  it('shows the conversation, sends, receives live, redraws on resize and exits cleanly on Ctrl+C', async () => {
    const exitFile = join(homes.alice, 'tui-exit-code');
    term.stderrFile = join(homes.alice, 'tui-stderr');
    const command = cliCommandLine(['--home', homes.alice, 'chat', ids.bob]);
    tmux(
      'new-session',
      '-d',
      '-s',
      'tui',
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
      // CI runners export CI=true, which puts Ink in a mode that draws nothing until exit; the
      // screen must draw in a real terminal whatever the shell exports.
      '-e',
      'CI=true',
      `${command} 2> '${term.stderrFile}'; echo $? > '${exitFile}'; sleep 30`,
    );

    const first = await waitForScreen((s) => s.includes('hello from bob'), 'the message from bob');
    expect(first).toMatch(/bob .*connected/);
    expect(first).toContain('key pinned, not verified');

    tmux('send-keys', '-t', 'tui', '-l', 'hi bob, from the terminal');
    tmux('send-keys', '-t', 'tui', 'Enter');
    await waitForScreen((s) => /hi bob, from the terminal ✓/.test(s), 'my message acknowledged');

    const env = { METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: daemon.url };
    const history = await runCli(['--home', homes.bob, 'history', ids.alice, '--json'], { env });
    expect(history.code).toBe(0);
    expect(history.stdout).toContain('hi bob, from the terminal');
    await runCli(['--home', homes.bob, 'send', ids.alice, 'a live reply'], { env });
    await waitForScreen((s) => s.includes('a live reply'), 'the live reply');

    tmux('resize-window', '-t', 'tui', '-x', '50', '-y', '20');
    const narrow = await waitForScreen(
      (s) => s.includes('a live reply') && s.split('\n').every((line) => line.length <= 50),
      'a redraw at 50 columns',
    );
    expect(narrow).toContain('hi bob, from the');

    tmux('send-keys', '-t', 'tui', 'Escape');
    await waitForScreen((s) => s.includes('MetaChat · alice'), 'the inbox');

    tmux('send-keys', '-t', 'tui', 'C-c');
    const deadline = Date.now() + 15_000;
    let code = '';
    while (Date.now() < deadline && code === '') {
      code = await readFile(exitFile, 'utf8').catch(() => '');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(code.trim()).toBe('0');
  }, 90_000);

  it('register asks for the username, then the password twice without showing it', async () => {
    const home = await tempDir('metachat-home-');
    term.stderrFile = join(home, 'stderr');
    const command = cliCommandLine(['--home', home, '--server', daemon.url, 'register']);
    tmux('new-session', '-d', '-s', 'reg', '-x', '100', '-y', '24', '-c', ROOT);
    term.typeLine(`${command} 2> '${term.stderrFile}'; echo "exit=$?"`, 'reg');
    const typed = 'a secret typed here';
    await waitForScreen((s) => s.includes('Username'), 'the username prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', 'carol-at-a-terminal');
    tmux('send-keys', '-t', 'reg', 'Enter');
    await waitForScreen((s) => /Password\s*$/m.test(s), 'the password prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', typed);
    tmux('send-keys', '-t', 'reg', 'Enter');
    await waitForScreen((s) => s.includes('Password again'), 'the second prompt', 20_000, 'reg');
    tmux('send-keys', '-t', 'reg', '-l', typed);
    tmux('send-keys', '-t', 'reg', 'Enter');
    const done = await waitForScreen((s) => /^exit=\d+\s*$/m.test(s), 'the end', 30_000, 'reg');
    expect(done).toContain('Registered.');
    expect(done).toMatch(/^exit=0\s*$/m);
    expect(done).not.toContain(typed);
    expect(done).not.toContain('secret');
  }, 60_000);
});
