import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { RelayClient, RelayUnreachableError } from '../../src/cli/relay/relay-client.js';
import { newUser, sealText, startTestRelay } from '../support/relay-harness.js';

let server: Server | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A real Socket.IO server on a random loopback port whose handshake does what `middleware` says. */
async function handshakeServer(middleware: (socket: Socket) => void): Promise<string> {
  const http = createServer();
  server = new Server(http);
  server.use((socket) => {
    middleware(socket);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

describe('RelayClient.connect', () => {
  it('gives up with RelayUnreachableError when the transport closes mid-handshake', async () => {
    const url = await handshakeServer((socket) => {
      socket.conn.close();
    });
    const started = Date.now();
    const error = await RelayClient.connect(url, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayUnreachableError);
    expect((error as Error).message).toMatch(/closed during the handshake/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('gives up with RelayUnreachableError when the handshake never completes', async () => {
    const url = await handshakeServer(() => undefined);
    const error = await RelayClient.connect(url, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayUnreachableError);
    expect((error as Error).message).toMatch(/no answer in time/);
  });
});

describe('RelayClient page reads', () => {
  it('queues concurrent sync and history on one connection instead of colliding (no RATE_LIMITED)', async () => {
    const relay = await startTestRelay();
    try {
      const reader = await newUser(relay.url, 'pagereader');
      const peer = await newUser(relay.url, 'pagepeer');
      for (let i = 0; i < 5; i++) await peer.client.send(sealText(peer, reader, `m${i}`));
      const pages = await Promise.all([
        reader.client.sync(0, 2),
        reader.client.history(peer.identifier),
        reader.client.sync(0),
        reader.client.sync(2),
      ]);
      expect(pages.map((page) => page.packets.length)).toEqual([2, 5, 5, 3]);
      reader.client.close();
      peer.client.close();
    } finally {
      await relay.stop();
    }
  });
});
