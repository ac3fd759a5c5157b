import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';

/**
 * Stops reading a connected client's TCP socket (socket.io-client over `ws`): the relay's writes to
 * it back up as they would for a device that stopped reading, while the client can still send.
 */
export function pauseReading(client: RelayClient): void {
  tcpSocketOf(client).pause();
}

/** Reads a paused client's TCP socket again (before closing it: the close handshake needs reads). */
export function resumeReading(client: RelayClient): void {
  tcpSocketOf(client).resume();
}

function tcpSocketOf(client: RelayClient): Socket {
  const transport = client.socket.io.engine.transport as unknown as {
    ws?: { _socket?: Socket };
  };
  const net = transport.ws?._socket;
  if (!net) throw new Error('no WebSocket TCP socket to pause');
  return net;
}

/** One masked WebSocket text frame (client to server), as RFC 6455 requires of clients. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('only short frames');
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] ?? 0)));
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked]);
}

/** How an idle connection behaves once upgraded. */
export interface IdleOptions {
  /** Local address to connect from (any of 127.0.0.0/8 works on Linux): another "client". */
  readonly localAddress?: string;
  /** Join the Socket.IO namespace (default true); false stays a bare engine.io connection. */
  readonly join?: boolean;
  /** Stop reading (default true); false keeps reading, so a close by the relay is seen. */
  readonly pause?: boolean;
  readonly timeoutMs?: number;
}

/**
 * A raw connection that does the WebSocket handshake, joins the Socket.IO namespace (so it counts as
 * an unauthenticated socket of the relay), then never reads again. Resolves once the relay accepted
 * the upgrade; rejects when it refused it.
 */
export function idleConnection(url: string, options: IdleOptions = {}): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: hostname,
      port: Number(port),
      ...(options.localAddress === undefined ? {} : { localAddress: options.localAddress }),
    });
    let head = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no upgrade in time'));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.once('connect', () => {
      socket.write(
        [
          'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1',
          `Host: ${hostname}:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          '',
          '',
        ].join('\r\n'),
      );
    });
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      clearTimeout(timer);
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`upgrade refused: ${head.split('\r\n')[0] ?? ''}`));
        return;
      }
      if (options.join !== false) socket.write(textFrame('40'));
      if (options.pause !== false) socket.pause();
      else socket.resume();
      resolve(socket);
    };
    socket.on('data', onData);
  });
}
