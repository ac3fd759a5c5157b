import { afterAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { MAX_BODY_BYTES, type Packet } from '../../src/core/index.js';
import { idleConnection, pauseReading } from '../support/paused-readers.js';
import {
  capturingLogger,
  newUser,
  secondDevice,
  startTestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { sealRaw } from '../support/seal-raw.js';

const cleanup: (() => unknown)[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** A note to self at the largest size the relay takes: about 55 KB on the wire. */
function bigNote(user: TestUser): Packet {
  return sealRaw(user, user, { plaintext: new Uint8Array(MAX_BODY_BYTES) });
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

describe('unsent output per connection', () => {
  it('reads no page for a connection that still holds one unsent, and answers the rest once it reads again', async () => {
    const server = await startTestRelay({
      limits: { pageDrainWaitMs: 500, eventsPerSecond: 1e6, eventBurst: 1e6 },
    });
    cleanup.push(() => server.stop());
    const mallory = await newUser(server.url, 'mallory');
    cleanup.push(() => mallory.client.close());
    for (let i = 0; i < 60; i++) await mallory.client.send(bigNote(mallory));
    const reader = await secondDevice(server.url, mallory);
    cleanup.push(() => reader.close());
    pauseReading(reader);
    const answers: { ok: boolean; packets?: unknown[]; error?: { message: string } }[] = [];
    const ASKED = 300;
    for (let i = 0; i < ASKED; i++) {
      reader.socket.emit('sync', { after: 0, limit: 500 }, (answer: (typeof answers)[number]) => {
        answers.push(answer);
      });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const transport = reader.socket.io.engine.transport as unknown as {
      ws: { _socket: Socket };
    };
    transport.ws._socket.resume();
    await until(() => answers.length === ASKED, 20_000, 'every answer');
    const pages = answers.filter((answer) => answer.ok);
    // Each page is about 2 MB: only what the kernel's socket buffers took can have been read.
    expect(pages.length).toBeGreaterThanOrEqual(1);
    expect(pages.length).toBeLessThanOrEqual(6);
    expect(pages[0]?.packets?.length).toBeGreaterThan(30);
    expect(
      answers.some((a) => /previous page has not been received/.test(a.error?.message ?? '')),
    ).toBe(true);
    expect((await reader.sync(0)).packets.length).toBeGreaterThan(30);
  }, 60_000);

  it('closes a device that stops reading its pushes once it holds too much, logs why, and stays up', async () => {
    const { logger, lines } = capturingLogger();
    const server = await startTestRelay({ logger, limits: { maxUnsentBytes: 4 * 1024 * 1024 } });
    cleanup.push(() => server.stop());
    const mallory = await newUser(server.url, 'mallory');
    cleanup.push(() => mallory.client.close());
    const paused = await secondDevice(server.url, mallory);
    cleanup.push(() => paused.close());
    pauseReading(paused);
    const overflowed = () => lines().some((line) => line['code'] === 'OUTPUT_OVERFLOW');
    // Kernel buffers on loopback take a few megabytes before the relay holds anything.
    for (let i = 0; i < 600 && !overflowed(); i++) await mallory.client.send(bigNote(mallory));
    await until(overflowed, 5000, 'the overflow');
    expect(lines().find((line) => line['code'] === 'OUTPUT_OVERFLOW')).toEqual(
      expect.objectContaining({ event: 'connection-closed', level: 40 }),
    );
    await until(() => lines().length > 0, 1000, 'logs');
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { connections: number };
    expect(health.connections).toBe(1);
    expect((await mallory.client.sync(0)).packets.length).toBeGreaterThan(0);
  }, 120_000);
});

describe('connection caps', () => {
  it('refuses connections past the cap per address and in total, logging codes only', async () => {
    const { logger, lines } = capturingLogger();
    const server = await startTestRelay({
      logger,
      limits: { maxConnectionsPerAddress: 4, maxConnections: 6 },
    });
    cleanup.push(() => server.stop());
    const open: Socket[] = [];
    cleanup.push(() => open.forEach((socket) => socket.destroy()));
    for (let i = 0; i < 4; i++) open.push(await idleConnection(server.url));
    await expect(idleConnection(server.url)).rejects.toThrow(/upgrade refused: HTTP\/1.1 4/);
    await expect(RelayClient.connect(server.url)).rejects.toThrow(/Cannot reach the relay/);
    for (let i = 0; i < 2; i++)
      open.push(await idleConnection(server.url, { localAddress: '127.0.0.2' }));
    await expect(idleConnection(server.url, { localAddress: '127.0.0.3' })).rejects.toThrow(
      /upgrade refused/,
    );
    const codes = lines().map((line) => line['code']);
    expect(codes).toContain('TOO_MANY_CONNECTIONS_FROM_ADDRESS');
    expect(codes).toContain('TOO_MANY_CONNECTIONS');
    expect(JSON.stringify(lines())).not.toMatch(/127\.0\.0/);
    // A closed connection frees its place.
    const first = open.shift();
    first?.destroy();
    await until(() => first?.destroyed ?? true, 1000, 'the close');
    await new Promise((resolve) => setTimeout(resolve, 200));
    open.push(await idleConnection(server.url, { localAddress: '127.0.0.3' }));
  }, 30_000);

  it('closes a connection that has not authenticated in time, bare engine.io ones too, and keeps authenticated ones', async () => {
    // Registration (key generation and PBKDF2 here) takes longer than this short timeout: register
    // first, then restart the relay on the same data with the short timeout.
    const first = await startTestRelay();
    const alice = await newUser(first.url, 'alice');
    alice.client.close();
    await first.stop(true);
    const server = await startTestRelay({
      dataDir: first.dataDir,
      limits: { unauthenticatedTimeoutMs: 700 },
    });
    cleanup.push(() => server.stop());
    const device = await secondDevice(server.url, alice);
    cleanup.push(() => device.close());
    const idle = await idleConnection(server.url, { pause: false });
    const bare = await idleConnection(server.url, { pause: false, join: false });
    const started = Date.now();
    await Promise.all([closed(idle), closed(bare)]);
    expect(Date.now() - started).toBeLessThan(8000);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(device.socket.connected).toBe(true);
    expect(await device.sync(0)).toMatchObject({ more: false });
  }, 30_000);
});
