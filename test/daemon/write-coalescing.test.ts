import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket as NetSocket } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket } from 'socket.io-client';
import { coalesceServerWrites } from '../../src/daemon/write-coalescing.js';

const EVENTS = 40;
let http: HttpServer | undefined;
let server: Server | undefined;
let client: Socket | undefined;

afterEach(async () => {
  client?.close();
  await server?.close();
  http?.close();
});

/**
 * Emits EVENTS events in one event-loop turn and returns how many socket writes reached the
 * kernel for them, and what the client received.
 */
async function burst(
  coalesce: boolean,
  transports: string[],
): Promise<{ writes: number; got: number[] }> {
  http = createServer();
  server = new Server(http, { serveClient: false });
  if (coalesce) coalesceServerWrites(server);
  await new Promise<void>((resolve) => http?.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const got: number[] = [];
  const received = new Promise<void>((resolve) => {
    client = connect(`http://127.0.0.1:${String(port)}`, { transports, reconnection: false });
    client.on('n', (n: number) => {
      got.push(n);
      if (got.length === EVENTS) resolve();
    });
  });
  const socket = await new Promise<import('socket.io').Socket>((resolve) => {
    server?.on('connection', (s) => {
      if (s.conn.transport.name === 'websocket') resolve(s);
      else s.conn.once('upgrade', () => resolve(s));
    });
  });
  const net = (socket.conn.transport as unknown as { socket: { _socket: NetSocket } }).socket
    ._socket;
  let writes = 0;
  const counted = net as unknown as {
    _writev: (...a: unknown[]) => void;
    _write: (...a: unknown[]) => void;
  };
  const writev = counted._writev.bind(net);
  const write = counted._write.bind(net);
  counted._writev = (...args) => {
    writes++;
    writev(...args);
  };
  counted._write = (...args) => {
    writes++;
    write(...args);
  };
  for (let n = 0; n < EVENTS; n++) socket.emit('n', n);
  await received;
  return { writes, got };
}

describe('write coalescing', () => {
  it('sends the frames of one event-loop turn in at most two writes, in order', async () => {
    // Engine.io writes the first frame at once and queues the rest until that write completes.
    const { writes, got } = await burst(true, ['websocket']);
    expect(got).toEqual(Array.from({ length: EVENTS }, (_, n) => n));
    expect(writes).toBeLessThanOrEqual(2);
  });

  it('is what makes the difference: without it each frame is its own write', async () => {
    const { writes } = await burst(false, ['websocket']);
    expect(writes).toBeGreaterThanOrEqual(EVENTS / 2);
  });

  it('also applies to a connection that upgrades from long-polling', async () => {
    const { writes, got } = await burst(true, ['polling', 'websocket']);
    expect(got).toHaveLength(EVENTS);
    expect(writes).toBeLessThanOrEqual(2);
  });
});
