// The baseline of the relay benchmark: Socket.IO with the same transport and message shapes as
// metachat-daemon, and nothing else (no parsing, no crypto, no storage).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { coalesceServerWrites } from '../src/daemon/write-coalescing.js';

const http = createServer();
const io = new Server(http, { serveClient: false, maxHttpBufferSize: 70_000 });
// The same transport as the daemon, write coalescing included.
coalesceServerWrites(io);
let seq = 0;
io.on('connection', (socket) => {
  socket.on('hello', (name: string, ack: (r: object) => void) => {
    void socket.join(name);
    ack({ ok: true });
  });
  socket.on('send', (packet: { to: string }, ack: (r: object) => void) => {
    seq++;
    const serverTime = Date.now();
    ack({ ok: true, seq, serverTime, duplicate: false });
    io.to(packet.to).emit('packet', { seq, serverTime, packet });
  });
});
http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  process.stdout.write(`bare relay listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  void io.close().then(() => process.exit(0));
});
