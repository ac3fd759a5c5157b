// `npm run bench -- import`: what `metachat-daemon import-lowdb` costs for a data directory of
// 20,000 packets (the CLI as shipped, from dist/, into a real PostgreSQL started for the run).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { identifierFromUsername, type Packet } from '../src/core/index.js';
import { FileKeyDirectory } from '../src/daemon/key-directory.js';
import { SegmentedStore } from '../src/daemon/segmented-store.js';
import { ServerSecret } from '../src/daemon/server-secret.js';
import { startPostgres } from '../test/support/postgres-server.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKETS = 20_000;
const USERS = Array.from({ length: 64 }, (_, i) => identifierFromUsername(`import-bench-${i}`));

function packet(i: number): Packet {
  return {
    v: 1,
    id: randomBytes(16).toString('hex'),
    from: USERS[i % USERS.length] ?? '',
    to: USERS[(i * 7 + 1) % USERS.length] ?? '',
    time: Date.now(),
    iv: randomBytes(12).toString('base64'),
    ct: randomBytes(200).toString('base64'),
    keyTo: randomBytes(256).toString('base64'),
    keyFrom: randomBytes(256).toString('base64'),
    sig: randomBytes(256).toString('base64'),
  };
}

function run(args: string[]): Promise<{ ms: number; out: string }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/metachat-daemon'), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => {
      if (code === 0) resolve({ ms: performance.now() - started, out: out.trim() });
      else reject(new Error(`import-lowdb exited with ${String(code)}: ${out}`));
    });
  });
}

/** Builds the data directory, imports it, then imports it again (nothing to write). */
export async function importCost(): Promise<void> {
  console.log(`\nimport-lowdb: a data directory of ${String(PACKETS)} packets into PostgreSQL`);
  const dataDir = await mkdtemp(join(tmpdir(), 'metachat-import-bench-'));
  await FileKeyDirectory.open(join(dataDir, 'keys'));
  await ServerSecret.open(dataDir);
  const store = await SegmentedStore.open(dataDir);
  for (let i = 0; i < PACKETS; i += 64)
    await Promise.all(
      Array.from({ length: Math.min(64, PACKETS - i) }, (_, j) => store.append(packet(i + j), 1)),
    );
  await store.close();
  const server = await startPostgres();
  try {
    const url = await server.createDatabase();
    const first = await run(['import-lowdb', dataDir, '--store', url]);
    console.log(`first run   ${(first.ms / 1000).toFixed(1)} s (process start included)`);
    console.log(`  ${first.out}`);
    const again = await run(['import-lowdb', dataDir, '--store', url]);
    console.log(`second run  ${(again.ms / 1000).toFixed(1)} s: ${again.out}`);
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}
