// One client process of `npm run bench -- memory`: holds many idle Socket.IO connections to one
// relay on 127.0.0.1, so the relay's memory per connection can be measured without the load
// generator's own memory (or file descriptors) in the relay's process or in the bench's.
//
// Reads JSON lines on stdin: first {url, pkcs8, bare}; then {open: [identifiers]} to open one more
// connection per identifier (authenticated on metachat-daemon, `hello` on the bare relay), each
// answered by `opened N` once all are open. Closes everything and exits when stdin ends, or after
// LIFETIME_MS whatever happens.
import { createInterface } from 'node:readline';
import type { Socket } from 'socket.io-client';
import {
  base64ToBytes,
  createAuthProof,
  importPrivateKey,
  type PrivateKey,
} from '../src/core/index.js';
import { openSocket } from './relay-load.js';

const LIFETIME_MS = 300_000;
const CONCURRENT_OPENS = 32;

interface Setup {
  readonly url: string;
  readonly pkcs8: string;
  readonly bare: boolean;
}

const sockets: Socket[] = [];
let setup: Setup | undefined;
let key: PrivateKey | undefined;

async function connect(identifier: string): Promise<Socket> {
  if (!setup) throw new Error('no setup line');
  const socket = await openSocket(setup.url);
  if (setup.bare) {
    await socket.timeout(30_000).emitWithAck('hello', identifier);
    return socket;
  }
  const { nonce } = (await socket.timeout(30_000).emitWithAck('challenge')) as { nonce: string };
  if (!key) throw new Error('no key');
  const proof = createAuthProof(key, identifier, nonce);
  const ack = (await socket.timeout(30_000).emitWithAck('authenticate', { identifier, proof })) as {
    ok: boolean;
  };
  if (!ack.ok) throw new Error(`authentication refused: ${JSON.stringify(ack)}`);
  return socket;
}

async function openAll(identifiers: readonly string[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENT_OPENS }, async () => {
      while (next < identifiers.length) {
        const identifier = identifiers[next++];
        if (identifier !== undefined) sockets.push(await connect(identifier));
      }
    }),
  );
}

function finish(code: number): void {
  for (const socket of sockets) socket.close();
  process.exit(code);
}

setTimeout(() => finish(2), LIFETIME_MS).unref();
const lines = createInterface({ input: process.stdin });
let work = Promise.resolve();
lines.on('line', (line) => {
  work = work.then(async () => {
    const message = JSON.parse(line) as Partial<Setup> & { open?: string[] };
    if (message.url !== undefined) {
      setup = message as Setup;
      key = importPrivateKey(base64ToBytes(setup.pkcs8));
      return;
    }
    await openAll(message.open ?? []);
    process.stdout.write(`opened ${String(sockets.length)}\n`);
  });
  work.catch((error: unknown) => {
    process.stderr.write(`memory client failed: ${String(error)}\n`);
    finish(1);
  });
});
lines.on('close', () => {
  void work.finally(() => finish(0));
});
