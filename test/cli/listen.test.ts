import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeliveredNotice } from '../../src/core/index.js';
import type { RelayClient } from '../../src/cli/relay-client.js';
import { runCli } from '../support/cli-process.js';
import {
  newUser,
  secondDevice,
  sealText,
  startTestRelay,
  tempDir,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const PASSWORD = 'correct horse battery';

let relay: TestRelay;
let home: string;
let alice: TestUser;
let bob: TestUser;
let listener: ChildProcess | undefined;
let out = '';
let err = '';

/** Waits until the listener has printed `text`, or fails with what it printed. */
async function printed(text: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!out.includes(text)) {
    if (Date.now() > deadline) {
      throw new Error(`listen did not print "${text}"; stdout:\n${out}\nstderr:\n${err}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Resolves with the delivery notice for a packet id, or fails after `ms`. */
function deliveredTo(client: RelayClient, id: string, ms = 10_000): Promise<DeliveredNotice> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`no delivery notice for ${id}`));
    }, ms);
    client.on('delivered', (notice) => {
      if (notice.id !== id) return;
      clearTimeout(timer);
      resolve(notice);
    });
  });
}

beforeAll(async () => {
  relay = await startTestRelay();
  home = await tempDir('metachat-home-');
  alice = await newUser(relay.url, 'alice', PASSWORD);
  bob = await newUser(relay.url, 'bob', PASSWORD);
  const login = await runCli(['login', 'bob', '--home', home, '--server', relay.url], {
    env: { METACHAT_PASSWORD: PASSWORD },
  });
  expect(login.code).toBe(0);
}, 60_000);

afterAll(async () => {
  listener?.kill('SIGKILL');
  alice.client.close();
  bob.client.close();
  await relay.stop();
  await rm(home, { recursive: true, force: true });
});

describe('metachat listen', () => {
  it('sends delivery receipts, and after the relay restarts authenticates again and catches up', async () => {
    listener = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/entry.ts'), 'listen', '--home', home],
      {
        cwd: ROOT,
        env: { ...process.env, METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: relay.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    listener.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    listener.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => listener?.once('exit', resolve));

    const first = sealText(alice, bob, 'before the restart');
    const firstDelivered = deliveredTo(alice.client, first.id);
    await alice.client.send(first);
    await printed('before the restart');
    expect(await firstDelivered).toMatchObject({ id: first.id, to: bob.identifier });

    // The relay goes away and comes back on the same port and data: listen's socket reconnects,
    // but the relay binds identity per connection, so it must prove it again to be pushed to.
    const port = Number(new URL(relay.url).port);
    const dataDir = relay.dataDir;
    alice.client.close();
    await relay.stop(true);
    relay = await startTestRelay({ dataDir, port });
    const sender = await secondDevice(relay.url, alice);
    try {
      const whileAway = sealText(alice, bob, 'sent while listen was reconnecting');
      await sender.send(whileAway);
      await printed('sent while listen was reconnecting');
      const live = sealText(alice, bob, 'live after the restart');
      const liveDelivered = deliveredTo(sender, live.id);
      await sender.send(live);
      await printed('live after the restart');
      expect(await liveDelivered).toMatchObject({ id: live.id, to: bob.identifier });
    } finally {
      sender.close();
    }

    listener.kill('SIGINT');
    expect(await exited).toBe(0);
    const texts = out
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { text?: string }).text);
    expect(texts).toEqual([
      'before the restart',
      'sent while listen was reconnecting',
      'live after the restart',
    ]);
    expect(err).not.toMatch(/could not resume/);
    expect(err).toMatch(/lost the relay; reconnecting…\n(.|\n)*reconnected; catching up/);
  }, 60_000);

  it('says so when the relay cannot be reached at start, and begins once it answers', async () => {
    const port = Number(new URL(relay.url).port);
    const dataDir = relay.dataDir;
    await relay.stop(true);
    let said = '';
    const waiting = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/entry.ts'), 'listen', '--home', home],
      {
        cwd: ROOT,
        env: { ...process.env, METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: relay.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    listener = waiting;
    let heard = '';
    waiting.stdout.on('data', (chunk: Buffer) => (heard += chunk.toString()));
    waiting.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => waiting.once('exit', resolve));
    const deadline = Date.now() + 15_000;
    while (!said.includes('cannot reach the relay') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 50));
    expect(said).toMatch(/cannot reach the relay at http:\/\/127\.0\.0\.1:\d+ .*retrying/);

    relay = await startTestRelay({ dataDir, port });
    const sender = await secondDevice(relay.url, alice);
    try {
      await sender.send(sealText(alice, bob, 'once the relay answered'));
      while (!heard.includes('once the relay answered') && Date.now() < deadline + 15_000)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(heard).toContain('once the relay answered');
    } finally {
      sender.close();
    }
    waiting.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 60_000);

  it('winds down like Ctrl+C when its reader goes away, and keeps how far it read', async () => {
    const reader = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/entry.ts'), 'listen', '--home', home],
      {
        cwd: ROOT,
        env: { ...process.env, METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: relay.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    listener = reader;
    let first = '';
    let said = '';
    reader.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => reader.once('exit', resolve));
    const sender = await secondDevice(relay.url, alice);
    try {
      await sender.send(sealText(alice, bob, 'the only line read'));
      await new Promise<void>((resolve) => {
        reader.stdout.on('data', (chunk: Buffer) => {
          first += chunk.toString();
          if (first.includes('\n')) resolve();
        });
      });
      reader.stdout.destroy();
      const last = sealText(alice, bob, 'written into a closed pipe');
      const { seq } = await sender.send(last);
      expect(await exited).toBe(0);
      expect(said).not.toMatch(/EPIPE|Error/);
      const profile = JSON.parse(await readFile(join(home, 'profile.json'), 'utf8')) as {
        seenUpTo: number;
      };
      expect(profile.seenUpTo).toBeGreaterThanOrEqual(seq);
    } finally {
      sender.close();
    }
  }, 60_000);
});
