import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { RelayClient, RelayUnreachableError } from '../../src/cli/relay/relay-client.js';

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
