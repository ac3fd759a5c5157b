import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import {
  bytesToBase64,
  createAuthProof,
  generateKeyPair,
  identifierFromUsername,
  newKdfParams,
  packetSigningBytes,
  sealPacket,
  type KeyPair,
  type MessageStore,
  type Packet,
} from '../src/core/index.js';
import { FileKeyDirectory } from '../src/daemon/key-directory.js';
import { readSegment } from '../src/daemon/segment-files.js';
import { SegmentedStore } from '../src/daemon/segmented-store.js';
import { openSocket, runLoad, type LoadPair, type LoadResult } from './relay-load.js';
import { printRatio } from './report.js';
import { pssVerify } from '../src/core/rsa.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAIRS = 16;
const WINDOW = 8;
const PER_PAIR = 1000;
const RATE = '100000';

/**
 * Starts a node process that prints `listening on URL`; with `fdLimit`, through a shell that
 * raises its file-descriptor limit first (`ulimit -n`), for many connections.
 */
export async function spawnListening(
  args: string[],
  fdLimit?: number,
): Promise<{ child: ChildProcess; url: string; ms: number }> {
  const started = performance.now();
  const child =
    fdLimit === undefined
      ? spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(
          'sh',
          ['-c', `ulimit -n ${String(fdLimit)} && exec "$0" "$@"`, process.execPath, ...args],
          {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'inherit'],
          },
        );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${String(code)} before listening`)));
  });
  return { child, url, ms: performance.now() - started };
}

export async function stop(child: ChildProcess): Promise<void> {
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** With METACHAT_BENCH_PROFILE=DIR, each relay writes a V8 CPU profile there (`--cpu-prof`). */
function profileArgs(): string[] {
  const profile = process.env['METACHAT_BENCH_PROFILE'];
  return profile ? ['--cpu-prof', `--cpu-prof-dir=${profile}`] : [];
}

/** The built daemon on a random port: on `dataDir`, or with `storeUrl` on that PostgreSQL database. */
export function daemonArgs(dataDir: string, storeUrl?: string): string[] {
  return [
    ...profileArgs(),
    join(ROOT, 'dist/daemon/main.js'),
    '--port',
    '0',
    ...(storeUrl === undefined ? ['--data', dataDir] : ['--store', storeUrl]),
    '--log-level',
    'warn',
    '--events-per-second',
    RATE,
  ];
}

export const identifiers = Array.from({ length: PAIRS * 2 }, (_, i) =>
  identifierFromUsername(`bench-user-${i}`),
);

export function sealAll(keyPair: KeyPair, perPair: number): Packet[][] {
  return Array.from({ length: PAIRS }, (_, p) =>
    Array.from({ length: perPair }, (_, i) =>
      sealPacket({
        sender: { identifier: identifiers[2 * p] ?? '', keyPair },
        recipient: { identifier: identifiers[2 * p + 1] ?? '', publicKey: keyPair.publicKey },
        body: {
          v: 1,
          type: 'text',
          text: `benchmark message ${i}: the quick brown fox jumps over the lazy dog`,
        },
      }),
    ),
  );
}

async function bareSockets(url: string): Promise<Socket[]> {
  return Promise.all(
    identifiers.map(async (identifier) => {
      const socket = await openSocket(url);
      await socket.emitWithAck('hello', identifier);
      return socket;
    }),
  );
}

export async function daemonSockets(
  url: string,
  keyPair: KeyPair,
  who: readonly string[] = identifiers,
): Promise<Socket[]> {
  return Promise.all(
    who.map(async (identifier) => {
      const socket = await openSocket(url);
      const { nonce } = (await socket.emitWithAck('challenge')) as { nonce: string };
      const proof = createAuthProof(keyPair.privateKey, identifier, nonce);
      const ack = (await socket.emitWithAck('authenticate', { identifier, proof })) as {
        ok: boolean;
      };
      if (!ack.ok) throw new Error('authentication failed');
      return socket;
    }),
  );
}

function pairsOf(sockets: Socket[], packets: Packet[][]): LoadPair[] {
  return packets.map((list, p) => ({
    sender: sockets[2 * p] as Socket,
    receiver: sockets[2 * p + 1] as Socket,
    packets: list,
  }));
}

/** CPU time (user + system) a process has used so far, in microseconds, from /proc. */
async function cpuMicros(pid: number | undefined): Promise<number> {
  if (pid === undefined) return Number.NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1e6) / 100;
}

/** Runs a load and also measures the CPU each side spent per message (the relays' sum). */
export async function measured(
  relay: ChildProcess | readonly ChildProcess[],
  pairs: LoadPair[],
): Promise<LoadResult & { relayCpu: number; clientCpu: number }> {
  const relays: readonly ChildProcess[] = Array.isArray(relay) ? relay : [relay as ChildProcess];
  const cpu = async () =>
    (await Promise.all(relays.map((child) => cpuMicros(child.pid)))).reduce((a, b) => a + b, 0);
  const relayBefore = await cpu();
  const clientBefore = process.cpuUsage();
  const result = await runLoad(pairs, WINDOW);
  const client = process.cpuUsage(clientBefore);
  const relayCpu = ((await cpu()) - relayBefore) / result.messages;
  return { ...result, relayCpu, clientCpu: (client.user + client.system) / result.messages };
}

/** Prints one load result on one line. */
export function line(label: string, r: LoadResult & { relayCpu: number; clientCpu: number }): void {
  console.log(
    `${label.padEnd(32)}${r.perSecond.toFixed(0).padStart(7)} msg/s  p50 ${r.p50Ms.toFixed(2).padStart(6)} ms  p99 ${r.p99Ms.toFixed(2).padStart(6)} ms  CPU/msg relay ${r.relayCpu.toFixed(0).padStart(4)} us, clients ${r.clientCpu.toFixed(0).padStart(3)} us`,
  );
}

/**
 * CPU of one RSA-PSS verification of a sealed packet (signing bytes built once outside the loop),
 * in microseconds: what the relay cannot avoid per message on top of the transport.
 */
function verifyMicros(packets: readonly Packet[], keyPair: KeyPair): number {
  const inputs = packets.map((packet) => ({
    data: packetSigningBytes(packet),
    sig: Buffer.from(packet.sig, 'base64'),
  }));
  const before = process.cpuUsage();
  let ok = 0;
  for (const { data, sig } of inputs) if (pssVerify(keyPair.publicKey.keyObject, data, sig)) ok++;
  const spent = process.cpuUsage(before);
  if (ok !== inputs.length) throw new Error('a benchmark packet does not verify');
  return (spent.user + spent.system) / inputs.length;
}

/** (a) bare Socket.IO relay versus (b) metachat-daemon, same clients, same packets, same load shape. */
export async function relayThroughput(): Promise<void> {
  console.log(
    `\nRelay: ${PAIRS} sender/receiver pairs, ${WINDOW} in flight per sender, ${PER_PAIR} pre-sealed packets per pair`,
  );
  const keyPair = await generateKeyPair();
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-bench-'));
  const keys = await FileKeyDirectory.open(join(dataDir, 'keys'));
  for (const identifier of identifiers) {
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
  const bare = await spawnListening([
    ...profileArgs(),
    '--import',
    'tsx',
    join(ROOT, 'bench/bare-relay.ts'),
  ]);
  const daemon = await spawnListening(daemonArgs(dataDir));
  // Every round's packets sealed before any client connects: sealing 16,000 packets on a busy
  // machine held the clients' event loop past the heartbeat, and the relays dropped them.
  const rounds = [300, PER_PAIR, PER_PAIR].map((perPair) => sealAll(keyPair, perPair));
  const bareClients = await bareSockets(bare.url);
  const daemonClients = await daemonSockets(daemon.url, keyPair);
  type Run = LoadResult & { relayCpu: number };
  const results: { a: Run[]; b: Run[]; verify: number[] } = { a: [], b: [], verify: [] };
  for (const [round, packets] of rounds.entries()) {
    const a = await measured(bare.child, pairsOf(bareClients, packets));
    const b = await measured(daemon.child, pairsOf(daemonClients, packets));
    const verify = verifyMicros(packets.flat().slice(0, 2000), keyPair);
    if (round === 0) continue;
    results.a.push(a);
    results.b.push(b);
    results.verify.push(verify);
    line(`(a) bare Socket.IO relay, run ${round}`, a);
    line(`(b) metachat-daemon, run ${round}`, b);
  }
  for (const socket of [...bareClients, ...daemonClients]) socket.close();
  await stop(bare.child);
  await stop(daemon.child);
  await rm(dataDir, { recursive: true, force: true });
  const mean = (list: Run[], pick: (r: Run) => number) =>
    list.reduce((s, r) => s + pick(r), 0) / list.length;
  const ratio = mean(results.b, (r) => r.perSecond) / mean(results.a, (r) => r.perSecond);
  const relayCpu = mean(results.b, (r) => r.relayCpu);
  const bareCpu = mean(results.a, (r) => r.relayCpu);
  const verify = results.verify.reduce((s, v) => s + v, 0) / results.verify.length;
  const cpuRatio = relayCpu / (bareCpu + verify);
  console.log(
    `relay CPU/msg ${relayCpu.toFixed(0)} us, bare ${bareCpu.toFixed(0)} us, one RSA-PSS verify ${verify.toFixed(0)} us (this run, bench process)`,
  );
  printRatio('throughput b/a (mean of the two runs)', ratio, '>= 0.5', ratio >= 0.5);
  printRatio('relay CPU/msg / (bare CPU/msg + one verify)', cpuRatio, '<= 1.3', cpuRatio <= 1.3);
}

let counter = 0;
/** A light user on a busy relay: one packet in 509, so one record in most segments. */
const SPARSE_USER = identifierFromUsername('bench-sparse-user');

export function syntheticPacket(): Packet {
  const from =
    counter % 509 === 0 ? SPARSE_USER : (identifiers[counter % identifiers.length] ?? '');
  const to = identifiers[(counter * 7 + 1) % identifiers.length] ?? '';
  counter++;
  return {
    v: 1,
    id: randomBytes(16).toString('hex'),
    from,
    to,
    time: Date.now(),
    iv: randomBytes(12).toString('base64'),
    ct: randomBytes(120).toString('base64'),
    keyTo: randomBytes(256).toString('base64'),
    keyFrom: randomBytes(256).toString('base64'),
    sig: randomBytes(256).toString('base64'),
  };
}

export async function appendMany(
  store: Pick<MessageStore, 'append'>,
  count: number,
  inFlight: number,
): Promise<number> {
  const started = performance.now();
  let left = count;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (left > 0) {
        left--;
        await store.append(syntheticPacket(), Date.now());
      }
    }),
  );
  return (performance.now() - started) / count;
}

/**
 * A new device's first sync page from a store just opened (nothing cached): its records lie one
 * here, one there across most segments. Baseline: parsing one whole segment, what each segment
 * touched would cost without reading records alone.
 */
async function coldSyncPage(dataDir: string): Promise<void> {
  const store = await SegmentedStore.open(dataDir);
  const who = SPARSE_USER;
  const started = performance.now();
  const page = await store.since(who, 0, 100);
  const pageMs = performance.now() - started;
  await store.close();
  const segments = new Set(page.records.map((record) => Math.floor(record.pos / 512))).size;
  const wholeStarted = performance.now();
  await readSegment(join(dataDir, 'segments'), 1);
  const wholeMs = performance.now() - wholeStarted;
  console.log(
    `cold sync page of a light user: ${String(page.records.length)} records from ${String(segments)} segments in ${pageMs.toFixed(1)} ms`,
  );
  console.log(
    `  baseline: one whole segment parsed ${wholeMs.toFixed(1)} ms, so ${(segments * wholeMs).toFixed(0)} ms for the page if each segment were read whole`,
  );
}

/** A packet of about 56 KB from A to B, the largest a client may send. */
function largePacket(from: string, to: string): Packet {
  return { ...syntheticPacket(), from, to, ct: randomBytes(40_000).toString('base64') };
}

/**
 * What a page and a receipt read, against what they return: a 500-record sync of large packets
 * (before: the whole segment parsed, then cut to 2 MiB) and a receipt over a 1,536-record stream
 * (before: every packet of the stream loaded). Both baselines are measured in the same run.
 */
async function readCost(): Promise<void> {
  const [a = '', b = ''] = identifiers;
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-read-bench-'));
  let store = await SegmentedStore.open(dataDir);
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = 0; i < 96; i++) await store.append(largePacket(a, b), 1);
    }),
  );
  await store.close();
  store = await SegmentedStore.open(dataDir);
  const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
  const segments = join(dataDir, 'segments');
  let started = performance.now();
  await readSegment(segments, 0);
  console.log(
    `sync page, 500 large records, before: whole segment parsed ${(performance.now() - started).toFixed(0)} ms`,
  );
  let read = store.readCounter.bytes;
  started = performance.now();
  const page = await store.since(b, 0, 500, 2 * 1024 * 1024);
  console.log(
    `  after: ${String(page.records.length)} records cut by bytes in ${(performance.now() - started).toFixed(1)} ms, ${mb(store.readCounter.bytes - read)} MB read`,
  );
  const heap = () => process.memoryUsage().heapUsed + process.memoryUsage().external;
  let before = heap();
  started = performance.now();
  const loaded = [];
  for (let k = 0; k < 3; k++) loaded.push(...(await readSegment(segments, k)));
  console.log(
    `receipt over ${String(loaded.length)} records, before: stream loaded ${(performance.now() - started).toFixed(0)} ms, +${mb(heap() - before)} MB`,
  );
  loaded.length = 0;
  before = heap();
  read = store.readCounter.bytes;
  started = performance.now();
  await store.acknowledge(b, 10_000);
  console.log(
    `  after: cursor moved on the index in ${(performance.now() - started).toFixed(1)} ms, ${String(store.readCounter.bytes - read)} bytes read, +${mb(heap() - before)} MB`,
  );
  await store.close();
  await rm(dataDir, { recursive: true, force: true });
}

/** Per-message storage cost as the history grows, and the daemon's start time with 100,000 stored. */
export async function storageCost(): Promise<void> {
  console.log('\nStorage: cost of one durable append (fsync) as the history grows');
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-store-bench-'));
  const store = await SegmentedStore.open(dataDir);
  const costs = new Map<number, { one: number; grouped: number }>();
  for (const level of [1_000, 10_000, 100_000]) {
    await appendMany(store, level - (await store.size()), 256);
    const one = await appendMany(store, 300, 1);
    const grouped = await appendMany(store, 2_000, 64);
    costs.set(level, { one, grouped });
    console.log(
      `${`at ${level.toLocaleString('en')} stored`.padEnd(20)}one at a time ${one.toFixed(3).padStart(7)} ms/msg   64 in flight (group commit) ${grouped.toFixed(3).padStart(7)} ms/msg`,
    );
  }
  await store.close();
  const first = costs.get(1_000);
  const last = costs.get(100_000);
  if (first && last) {
    printRatio(
      'cost at 100,000 / cost at 1,000, one at a time',
      last.one / first.one,
      '<= 2x',
      last.one / first.one <= 2,
    );
    printRatio(
      'cost at 100,000 / cost at 1,000, group commit',
      last.grouped / first.grouped,
      '<= 2x',
      last.grouped / first.grouped <= 2,
    );
  }
  await coldSyncPage(dataDir);
  await readCost();
  const empty = await mkdtemp(join(tmpdir(), 'metachat-empty-'));
  const baseline = await spawnListening(daemonArgs(empty));
  await stop(baseline.child);
  const full = await spawnListening(daemonArgs(dataDir));
  await stop(full.child);
  console.log(`daemon start, empty store (baseline)   ${baseline.ms.toFixed(0).padStart(6)} ms`);
  console.log(
    `daemon start, ${(await store.size()).toLocaleString('en')} stored      ${full.ms.toFixed(0).padStart(6)} ms`,
  );
  printRatio('start with 100,000+ stored, in seconds', full.ms / 1000, '<= 2 s', full.ms <= 2000);
  await rm(dataDir, { recursive: true, force: true });
  await rm(empty, { recursive: true, force: true });
}

/** The daemon part of `npm run bench`. */
export async function runDaemonBench(): Promise<void> {
  await relayThroughput();
  await storageCost();
}
