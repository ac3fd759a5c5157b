import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import {
  bytesToBase64,
  generateKeyPair,
  identifierFromUsername,
  newKdfParams,
  sealPacket,
  type KeyPair,
  type Packet,
} from '../src/core/index.js';
import { FileKeyDirectory } from '../src/daemon/key-directory.js';
import { daemonArgs, daemonSockets, spawnListening, stop } from './daemon-bench.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Users registered; each holds two of the connections (two devices), the 10,000 over 5,000 users. */
const USERS = 5_000;
const LEVELS = [1_000, 10_000] as const;
/** Connections opened before the baseline, so code loaded and compiled once is not counted. */
const WARM = 200;
const CLIENT_PROCESSES = 4;
/** A process may hold this many descriptors: 10,000 connections and the relay's own files. */
const FD_LIMIT = 20_000;
/**
 * Packets stored for an offline user: within the segment cache (the segments sealed last stay
 * parsed in memory, up to SEGMENT_CACHE_BYTES), and well past it, where only the index grows.
 */
const UNDELIVERED = [20_000, 80_000] as const;
const SETTLE_MS = 3_000;
const TARGET_KB = 30;

/** Resident memory of a process, from /proc, in bytes. */
function rssOf(child: ChildProcess): number {
  const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match?.[1] ? Number(match[1]) * 1024 : Number.NaN;
}

async function settledRss(child: ChildProcess): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  return rssOf(child);
}

/** A client process holding connections; `open` resolves once its new ones are all connected. */
class ClientProcess {
  private readonly child: ChildProcess;
  private readonly waiting: ((count: number) => void)[] = [];

  constructor(url: string, keyPair: KeyPair, bare: boolean) {
    this.child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/memory-clients.ts')],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    createInterface({ input: this.child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const match = /^opened (\d+)$/.exec(line);
      if (match) this.waiting.shift()?.(Number(match[1]));
    });
    this.send({ url, bare, pkcs8: bytesToBase64(keyPair.privateKey.pkcs8) });
  }

  private send(message: object): void {
    this.child.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  open(identifiers: readonly string[]): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('clients did not connect in 180 s')),
        180_000,
      );
      this.child.once('exit', (code) => reject(new Error(`client process exited ${String(code)}`)));
      this.waiting.push((count) => {
        clearTimeout(timer);
        resolve(count);
      });
      this.send({ open: identifiers });
    });
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      this.child.once('exit', () => resolve());
      this.child.stdin?.end();
    });
  }
}

/** The relay's RSS per connection at each level, over a baseline taken after WARM connections. */
async function perConnection(
  relay: ChildProcess,
  url: string,
  keyPair: KeyPair,
  users: readonly string[],
  bare: boolean,
): Promise<Map<number, number>> {
  const clients = Array.from(
    { length: CLIENT_PROCESSES },
    () => new ClientProcess(url, keyPair, bare),
  );
  let opened = 0;
  const openUpTo = async (total: number) => {
    const fresh = Array.from(
      { length: total - opened },
      (_, i) => users[(opened + i) % users.length] ?? '',
    );
    await Promise.all(
      clients.map((client, c) => client.open(fresh.filter((_, i) => i % CLIENT_PROCESSES === c))),
    );
    opened = total;
  };
  const out = new Map<number, number>();
  try {
    await openUpTo(WARM);
    const base = await settledRss(relay);
    for (const level of LEVELS) {
      await openUpTo(level);
      out.set(level, ((await settledRss(relay)) - base) / (level - WARM));
    }
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
  return out;
}

/** RSS per packet stored for a recipient who is never online, over a warmed-up baseline. */
async function perUndelivered(
  url: string,
  relay: ChildProcess,
  keyPair: KeyPair,
  users: readonly string[],
): Promise<{ perMessage: Map<number, number>; recordBytes: number }> {
  const [from = '', to = ''] = users;
  const seal = (i: number) =>
    sealPacket({
      sender: { identifier: from, keyPair },
      recipient: { identifier: to, publicKey: keyPair.publicKey },
      body: {
        v: 1,
        type: 'text',
        text: `undelivered message ${i}: the quick brown fox jumps over the lazy dog`,
      },
    });
  const [sender] = await daemonSockets(url, keyPair, [from]);
  if (!sender) throw new Error('no sender');
  // Each packet sealed just before it is sent: sealing them all first would hold this process's
  // event loop long enough for the relay to drop the connection for a missed heartbeat.
  const sendAll = async (count: number) => {
    const packets: Packet[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (packets.length < count) {
          const packet = seal(packets.length);
          packets.push(packet);
          const ack = (await sender.timeout(30_000).emitWithAck('send', packet)) as { ok: boolean };
          if (!ack.ok) throw new Error(`send refused: ${JSON.stringify(ack)}`);
        }
      }),
    );
    return packets;
  };
  const [sample] = await sendAll(1_000);
  const base = await settledRss(relay);
  const perMessage = new Map<number, number>();
  let sent = 0;
  for (const level of UNDELIVERED) {
    await sendAll(level - sent);
    sent = level;
    perMessage.set(level, ((await settledRss(relay)) - base) / level);
  }
  sender.close();
  const recordBytes = sample
    ? Buffer.byteLength(
        JSON.stringify({ pos: 0, serverTime: Date.now(), seqFrom: 1, seqTo: 1, packet: sample }),
      )
    : 0;
  return { perMessage, recordBytes };
}

async function registeredUsers(dataDir: string, keyPair: KeyPair): Promise<string[]> {
  const keys = await FileKeyDirectory.open(join(dataDir, 'keys'));
  const users = Array.from({ length: USERS }, (_, i) =>
    identifierFromUsername(`bench-memory-user-${i}`),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < users.length) {
        const identifier = users[next++] ?? '';
        await keys.create({
          identifier,
          publicKey: keyPair.publicKey.encoded,
          wrappedPrivateKey: {
            iv: bytesToBase64(randomBytes(12)),
            ct: bytesToBase64(randomBytes(1234)),
          },
          kdf: newKdfParams(),
          loginProofHash: randomBytes(32).toString('hex'),
          createdAt: Date.now(),
        });
      }
    }),
  );
  return users;
}

/** Prints the RSS per packet stored for an offline user, on a daemon just started on `dataDir`. */
async function undelivered(
  dataDir: string,
  keyPair: KeyPair,
  users: readonly string[],
): Promise<void> {
  // The same users, no packet stored yet: the store starts empty.
  const fresh = await spawnListening(daemonArgs(dataDir));
  const { perMessage, recordBytes } = await perUndelivered(fresh.url, fresh.child, keyPair, users);
  await stop(fresh.child);
  for (const [level, bytes] of perMessage) {
    console.log(
      `RSS per stored, undelivered packet, ${level.toLocaleString('en')} to one offline user: ${kb(bytes)} (${(bytes / recordBytes).toFixed(2)}x its ${kb(recordBytes)} record)`,
    );
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/**
 * `npm run bench -- memory`: the relay's resident memory per idle connection (authenticated on
 * metachat-daemon, against a bare Socket.IO relay with the same transport measured in the same
 * run) at 1,000 and 10,000 connections, and per packet stored for a recipient who is offline.
 */
export async function memoryBench(): Promise<void> {
  console.log(
    `\nMemory: relay RSS per idle connection (${String(USERS)} users, two connections each at 10,000; clients in ${String(CLIENT_PROCESSES)} processes), and per undelivered packet`,
  );
  const keyPair = await generateKeyPair();
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-memory-bench-'));
  try {
    const users = await registeredUsers(dataDir, keyPair);
    const limits = ['--max-connections', '20000', '--max-connections-per-address', '20000'];
    const bare = await spawnListening(
      ['--import', 'tsx', join(ROOT, 'bench/bare-relay.ts')],
      FD_LIMIT,
    );
    const bareCost = await perConnection(bare.child, bare.url, keyPair, users, true);
    await stop(bare.child);
    const daemon = await spawnListening([...daemonArgs(dataDir), ...limits], FD_LIMIT);
    const daemonCost = await perConnection(daemon.child, daemon.url, keyPair, users, false);
    await stop(daemon.child);
    for (const level of LEVELS) {
      console.log(
        `${`at ${level.toLocaleString('en')} connections`.padEnd(24)}metachat-daemon ${kb(daemonCost.get(level) ?? NaN).padStart(9)} each, bare Socket.IO relay ${kb(bareCost.get(level) ?? NaN).padStart(9)} each`,
      );
    }
    const at10k = daemonCost.get(10_000) ?? NaN;
    console.log(
      `RSS per connection at 10,000: ${kb(at10k)}, target <= ${String(TARGET_KB)} KB: ${at10k <= TARGET_KB * 1024 ? 'met' : 'NOT MET'}`,
    );
    console.log(
      `  against the bare relay in the same run: ${(at10k / (bareCost.get(10_000) ?? NaN)).toFixed(2)}x`,
    );
    await undelivered(dataDir, keyPair, users);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}
