import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { registerAccount, type Account } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { fillDisk } from '../support/fill-disk.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { sealText, tempDir } from '../support/relay-harness.js';
import { refusalCode } from '../support/refusal-code.js';
import { packetsOf } from '../support/records.js';

const codeOf = (run: () => Promise<unknown>): Promise<string> => refusalCode(run, 'stored');

/**
 * One user floods a small disk of the test's own: as root (CI), an 8 MB tmpfs mounted for this
 * test; otherwise (or with METACHAT_TEST_NO_TMPFS=1) the daemon runs under a file-size limit,
 * which makes its journal writes fail the way a full disk does.
 */
const dirs: string[] = [];
let mounted: string | undefined;
afterAll(async () => {
  await killAllDaemons();
  if (mounted) spawnSync('umount', [mounted]);
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function smallDisk(): Promise<{ dataDir: string; tmpfs: boolean }> {
  const dir = await tempDir('metachat-disk-');
  dirs.push(dir);
  if (process.getuid?.() === 0 && process.env['METACHAT_TEST_NO_TMPFS'] !== '1') {
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', dir]);
    if (mount.status === 0) {
      mounted = dir;
      return { dataDir: join(dir, 'data'), tmpfs: true };
    }
  }
  return { dataDir: join(dir, 'data'), tmpfs: false };
}

async function connectAs(url: string, account: Account): Promise<RelayClient> {
  const client = await RelayClient.connect(url, { timeoutMs: 10_000 });
  await client.authenticate(account.identifier, account.keyPair.privateKey);
  return client;
}

/** Sends 16 KB messages until the relay refuses one: at most 1,000 sends or 60 s. */
async function flood(
  client: RelayClient,
  from: Account,
  to: Account,
  acked: Set<string>,
): Promise<string> {
  const text = 'x'.repeat(16_000);
  const deadline = Date.now() + 60_000;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    const packet = sealText(from, to, `${String(i)} ${text}`);
    const code = await codeOf(() => client.send(packet));
    if (code !== 'stored') return code;
    acked.add(packet.id);
  }
  return 'never refused';
}

async function stream(client: RelayClient): Promise<{ seq: number; id: string }[]> {
  const out: { seq: number; id: string }[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const page = await client.sync(out.length, 500);
    out.push(...packetsOf(page.packets).map((p) => ({ seq: p.seq, id: p.packet.id })));
    if (!page.more) break;
  }
  return out;
}

async function stop(daemon: DaemonProcess): Promise<number | null> {
  daemon.child.kill('SIGTERM');
  return (await daemon.exited).code;
}

describe('a small disk flooded by one user', () => {
  it('stops the flood by quota and floor, keeps other users sending, stops with 0 and restarts full', async () => {
    const { dataDir, tmpfs } = await smallDisk();
    const limit = tmpfs ? {} : { fileSizeLimitKb: 4096 };
    const acked = new Set<string>();

    // 1. The quota: mallory's flood stops at 1 MB; alice and bob still send.
    let daemon = await spawnDaemon(
      dataDir,
      ['--quota-bytes', '1m', '--min-free-bytes', '1m'],
      limit,
    );
    const setup = await RelayClient.connect(daemon.url);
    const mallory = await registerAccount(setup, 'mallory', 'correct horse battery');
    const alice = await registerAccount(setup, 'alice', 'correct horse battery');
    const bob = await registerAccount(setup, 'bob', 'correct horse battery');
    setup.close();
    let flooder = await connectAs(daemon.url, mallory);
    expect(await flood(flooder, mallory, bob, acked)).toBe('QUOTA_EXCEEDED');
    expect(acked.size).toBeGreaterThan(30);
    expect(acked.size).toBeLessThan(50);
    let aliceClient = await connectAs(daemon.url, alice);
    const hello = sealText(alice, bob, 'still here');
    await aliceClient.send(hello);
    acked.add(hello.id);
    flooder.close();
    aliceClient.close();
    expect(await stop(daemon)).toBe(0);

    // 2. The floor: with a large quota the flood runs into the free-space floor, which refuses
    //    everyone's sends while reads and receipts still work.
    daemon = await spawnDaemon(dataDir, ['--quota-bytes', '1g', '--min-free-bytes', '1m'], limit);
    flooder = await connectAs(daemon.url, mallory);
    expect(await flood(flooder, mallory, bob, acked)).toBe(tmpfs ? 'STORAGE_FULL' : 'STORE_FAILED');
    aliceClient = await connectAs(daemon.url, alice);
    const refused = tmpfs ? 'STORAGE_FULL' : 'STORE_FAILED';
    // Larger than any flood packet. The floor is checked against a statfs at most a second old
    // (the relay's own writes subtracted meanwhile), and a fresh one may find the page rounding
    // of the last writes back: then the one that fits is stored, and the flood goes on to the floor.
    const big = 'y'.repeat(16_300);
    const aliceSends = async (): Promise<string> => {
      const packet = sealText(alice, bob, big);
      const code = await codeOf(() => aliceClient.send(packet));
      if (code === 'stored') acked.add(packet.id);
      return code;
    };
    let aliceCode = await aliceSends();
    for (let round = 0; round < 5 && aliceCode === 'stored'; round++) {
      expect(await flood(flooder, mallory, bob, acked)).toBe(refused);
      aliceCode = await aliceSends();
    }
    expect(aliceCode).toBe(refused);
    const bobClient = await connectAs(daemon.url, bob);
    const seen = await stream(bobClient);
    expect(seen.map((p) => p.id).sort()).toEqual([...acked].sort());
    await bobClient.receipt(seen.length);
    for (const client of [flooder, aliceClient, bobClient]) client.close();
    expect(await stop(daemon)).toBe(0);

    // 3. The disk entirely full: the relay starts, serves every stored packet, refuses sends,
    //    and SIGTERM still exits 0 though its last write of db.json fails.
    if (tmpfs) await fillDisk(join(dataDir, '..', 'filler'));
    daemon = await spawnDaemon(dataDir, ['--quota-bytes', '1g', '--min-free-bytes', '1m'], limit);
    const reader = await connectAs(daemon.url, bob);
    const all = await stream(reader);
    expect(all.map((p) => p.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all.map((p) => p.id).sort()).toEqual([...acked].sort());
    const late = await connectAs(daemon.url, alice);
    expect(await codeOf(() => late.send(sealText(alice, bob, big)))).toBe(refused);
    reader.close();
    late.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await stop(daemon)).toBe(0);
    if (tmpfs) expect(daemon.stderr()).toContain('final-write-failed');
  }, 180_000);
});
