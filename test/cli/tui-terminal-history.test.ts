import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../support/cli-process.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { startRpc } from '../support/jsonrpc-process.js';
import { tempDir } from '../support/relay-harness.js';
import {
  aliceAndBob,
  cliCommandLine,
  ROOT,
  TERMINAL_PASSWORD,
  TmuxTerminal,
} from '../support/tmux-terminal.js';

/** Messages bob sends after the needle: more than one page, so the newest page lacks the needle. */
const HAY = 60;
const NEEDLE = 'the needle 🦊 is in here';

let term: TmuxTerminal;
let daemon: DaemonProcess;
let homes: { alice: string; bob: string };
let ids: { alice: string; bob: string };
let env: Record<string, string>;
let session = 0;

const tmux = (...args: string[]): string => term.tmux(...args);

/** Starts alice's chat screen with bob in a new tmux session; returns its name and exit-code file. */
function openChat(server: string): { target: string; exitFile: string } {
  const target = `hist${String(++session)}`;
  const exitFile = join(homes.alice, `${target}-exit`);
  term.stderrFile = join(homes.alice, `${target}-stderr`);
  const command = cliCommandLine(['--home', homes.alice, 'chat', ids.bob]);
  tmux(
    'new-session',
    '-d',
    '-s',
    target,
    '-x',
    '80',
    '-y',
    '20',
    '-c',
    ROOT,
    '-e',
    `METACHAT_PASSWORD=${TERMINAL_PASSWORD}`,
    '-e',
    `METACHAT_SERVER=${server}`,
    `${command} 2> '${term.stderrFile}'; echo $? > '${exitFile}'; sleep 30`,
  );
  return { target, exitFile };
}

async function quit(target: string, exitFile: string): Promise<string> {
  tmux('send-keys', '-t', target, 'C-c');
  const deadline = Date.now() + 15_000;
  let code = '';
  while (Date.now() < deadline && code === '') {
    code = await readFile(exitFile, 'utf8').catch(() => '');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return code.trim();
}

/** An SGR sequence that turns inverse on (7, alone or among other attributes). */
const INVERSE = new RegExp(`${String.fromCharCode(27)}\\[(?:\\d+;)*7(?:;\\d+)*m`);

/** The screen lines drawn inverse (the highlighted message), from the pane with its attributes. */
function inverseLines(target: string): string[] {
  return term
    .screen(target, true)
    .split('\n')
    .filter((line) => INVERSE.test(line));
}

/** Whether a line holding `text` is drawn inverse within a few seconds (Ink may draw a frame late). */
async function highlightShown(target: string, text: string): Promise<boolean> {
  const until = Date.now() + 10_000;
  for (;;) {
    if (inverseLines(target).some((line) => line.includes(text))) return true;
    if (Date.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  term = new TmuxTerminal(`metachat-history-${String(process.pid)}`, 'hist1');
  daemon = await spawnDaemon(await tempDir());
  ({ homes, ids, env } = await aliceAndBob(daemon));
  // Bob writes the needle, then a page and more of hay, through one jsonrpc process.
  const rpc = startRpc(homes.bob, daemon.url, TERMINAL_PASSWORD);
  for (const text of [NEEDLE, ...Array.from({ length: HAY }, (_, i) => `hay ${String(i)}`)]) {
    const answer = await rpc.request('send', { peer: ids.alice, text });
    if (answer.error !== undefined) throw new Error(JSON.stringify(answer.error));
  }
  rpc.child.stdin.end();
  await rpc.exited;
  // Alice reads it all once: verified, opened and kept in her local history.
  const read = await runCli(['--home', homes.alice, 'history', ids.bob, '--limit', '200'], { env });
  if (read.code !== 0) throw new Error(read.stderr);
}, 120_000);

afterAll(async () => {
  term.close();
  await killAllDaemons();
});

describe('the chat screen over the local history, in a real terminal (tmux)', () => {
  it('/ searches the history and opens the conversation at the hit, highlighted', async () => {
    const { target, exitFile } = openChat(daemon.url);
    await term.waitForScreen((s) => s.includes(`hay ${String(HAY - 1)}`), 'the newest messages', {
      target,
    });
    await term.waitForScreen((s) => s.includes('connected'), 'connected', { target });
    // One send-keys: the /, the words (an emoji among them), Enter to search, Enter to open.
    tmux('send-keys', '-t', target, '/needle 🦊', 'Enter', 'Enter');
    const opened = await term.waitForScreen(
      (s) => s.includes(NEEDLE) && !s.includes(`hay ${String(HAY - 1)}`),
      'the conversation at the needle',
      { target },
    );
    expect(opened).toContain('hay 0');
    expect(await highlightShown(target, 'needle')).toBe(true);
    // Writing goes on as usual from there; / then Esc leaves a search without opening anything.
    tmux('send-keys', '-t', target, '/hay', 'Enter', 'Escape');
    await term.waitForScreen((s) => s.includes('/ search · Tab select'), 'the chat hints again', {
      target,
    });
    expect(await quit(target, exitFile)).toBe('0');
  }, 90_000);

  it('with the relay stopped: opens from the history, says offline, and / still finds a pasted search', async () => {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
    const { target, exitFile } = openChat(daemon.url);
    const shown = await term.waitForScreen(
      (s) => s.includes(`hay ${String(HAY - 1)}`) && s.includes('offline: from this device'),
      'the history, offline',
      { target },
    );
    expect(shown).toMatch(/bob /);
    // A pasted search with a bidi mark and an emoji: the mark is dropped, the words found.
    tmux('send-keys', '-t', target, '/');
    tmux('set-buffer', '-b', 'odd', 'NEEDLE\u200f 🦊');
    tmux('paste-buffer', '-p', '-b', 'odd', '-t', target);
    tmux('send-keys', '-t', target, 'Enter');
    const listed = await term.waitForScreen((s) => s.includes('1 of 1'), 'one result', {
      target,
    });
    expect(listed).toContain(NEEDLE);
    tmux('send-keys', '-t', target, 'Enter');
    await term.waitForScreen(
      (s) => s.includes(NEEDLE) && !s.includes(`hay ${String(HAY - 1)}`),
      'the conversation at the needle, offline',
      { target },
    );
    expect(await highlightShown(target, 'needle')).toBe(true);
    expect(await quit(target, exitFile)).toBe('0');
  }, 90_000);
});
