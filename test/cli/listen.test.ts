import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeliveredNotice } from '../../src/core/index.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
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

/** A `metachat listen` child process, and what it printed so far. */
interface Listening {
  readonly child: ChildProcess & { readonly stdout: Readable };
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<number | null>;
  /** Waits until stdout (or stderr) holds `text`, or fails with what it printed. */
  readonly printed: (text: string, on?: 'stdout' | 'stderr', ms?: number) => Promise<void>;
}

function startListen(): Listening {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/cli/entry.ts'), 'listen', '--home', home],
    {
      cwd: ROOT,
      env: { ...process.env, METACHAT_PASSWORD: PASSWORD, METACHAT_SERVER: relay.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  listener = child;
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  return {
    child,
    out: () => out,
    err: () => err,
    exited: new Promise((resolve) => child.once('exit', resolve)),
    async printed(text, on = 'stdout', ms = 15_000) {
      const deadline = Date.now() + ms;
      while (!(on === 'stdout' ? out : err).includes(text)) {
        if (Date.now() > deadline)
          throw new Error(`listen did not print "${text}"; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
  };
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
  // Receipts go only to two-way contacts (docs/threat-model.md): bob has written to alice before.
  await bob.client.send(sealText(bob, alice, 'we have met'));
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
    const listen = startListen();
    const first = sealText(alice, bob, 'before the restart');
    const firstDelivered = deliveredTo(alice.client, first.id);
    await alice.client.send(first);
    await listen.printed('before the restart');
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
      await listen.printed('sent while listen was reconnecting');
      const live = sealText(alice, bob, 'live after the restart');
      const liveDelivered = deliveredTo(sender, live.id);
      await sender.send(live);
      await listen.printed('live after the restart');
      expect(await liveDelivered).toMatchObject({ id: live.id, to: bob.identifier });
    } finally {
      sender.close();
    }

    listen.child.kill('SIGINT');
    expect(await listen.exited).toBe(0);
    const texts = listen
      .out()
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { text?: string }).text);
    expect(texts).toEqual([
      // bob's own message from his other device is shown too (marked outgoing).
      'we have met',
      'before the restart',
      'sent while listen was reconnecting',
      'live after the restart',
    ]);
    expect(listen.err()).not.toMatch(/could not resume/);
    expect(listen.err()).toMatch(
      /lost the relay at http:\/\/127\.0\.0\.1:\d+ \(.+\); reconnecting…\n(.|\n)*the relay at http:\/\/127\.0\.0\.1:\d+ is back; catching up/,
    );
  }, 60_000);

  it('says so when the relay cannot be reached at start, and begins once it answers', async () => {
    const port = Number(new URL(relay.url).port);
    const dataDir = relay.dataDir;
    await relay.stop(true);
    const waiting = startListen();
    await waiting.printed('cannot reach the relay', 'stderr');
    expect(waiting.err()).toMatch(/cannot reach the relay at http:\/\/127\.0\.0\.1:\d+ .*retrying/);

    relay = await startTestRelay({ dataDir, port });
    const sender = await secondDevice(relay.url, alice);
    try {
      await sender.send(sealText(alice, bob, 'once the relay answered'));
      await waiting.printed('once the relay answered');
      expect(waiting.err()).toContain(`the relay at ${relay.url} answers now`);
    } finally {
      sender.close();
    }
    waiting.child.kill('SIGINT');
    expect(await waiting.exited).toBe(0);
  }, 60_000);

  it('shows my own messages sent from another device, marked outgoing', async () => {
    const listen = startListen();
    const otherDevice = await secondDevice(relay.url, bob);
    try {
      const mine = sealText(bob, alice, 'typed on my laptop');
      await otherDevice.send(mine);
      await listen.printed('typed on my laptop');
    } finally {
      otherDevice.close();
    }
    listen.child.kill('SIGINT');
    expect(await listen.exited).toBe(0);
    const line = listen
      .out()
      .trim()
      .split('\n')
      .map((text) => JSON.parse(text) as Record<string, unknown>)
      .find((entry) => entry['text'] === 'typed on my laptop');
    expect(line).toMatchObject({
      direction: 'outgoing',
      from: bob.identifier,
      to: alice.identifier,
    });
  }, 60_000);

  it('winds down like Ctrl+C when its reader goes away, and keeps how far it read', async () => {
    const reader = startListen();
    const sender = await secondDevice(relay.url, alice);
    try {
      await sender.send(sealText(alice, bob, 'the only line read'));
      await reader.printed('the only line read');
      reader.child.stdout.destroy();
      const { seq } = await sender.send(sealText(alice, bob, 'written into a closed pipe'));
      expect(await reader.exited).toBe(0);
      expect(reader.err()).not.toMatch(/EPIPE|Error/);
      const profile = JSON.parse(await readFile(join(home, 'profile.json'), 'utf8')) as {
        seenUpTo: number;
      };
      expect(profile.seenUpTo).toBeGreaterThanOrEqual(seq);
    } finally {
      sender.close();
    }
  }, 60_000);
});
