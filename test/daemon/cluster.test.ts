import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rm } from 'node:fs/promises';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import type { Account } from '../../src/cli/relay/account.js';
import type { PresenceUpdate } from '../../src/core/index.js';
import { killAllDaemons, spawnDaemon, type DaemonProcess } from '../support/daemon-process.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import {
  collectPackets,
  newUser,
  sealText,
  secondDevice,
  tempDir,
  type TestUser,
} from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

// Three daemons on one PostgreSQL database, as `metachat-daemon --store` runs them behind a balancer.
let server: PostgresServer;
let dataDir: string;
let daemons: DaemonProcess[];
const clients: RelayClient[] = [];

beforeAll(async () => {
  server = await startPostgres();
  dataDir = await tempDir();
  const url = await server.createDatabase();
  daemons = [];
  for (let i = 0; i < 3; i++) daemons.push(await spawnDaemon(dataDir, ['--store', url]));
}, 90_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await killAllDaemons();
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
});

function daemon(i: number): string {
  const found = daemons[i];
  if (!found) throw new Error(`no daemon ${i}`);
  return found.url;
}

async function user(i: number, name: string): Promise<TestUser> {
  const made = await newUser(daemon(i), name);
  clients.push(made.client);
  return made;
}

async function device(i: number, account: Account): Promise<RelayClient> {
  const client = await secondDevice(daemon(i), account);
  clients.push(client);
  return client;
}

async function stream(client: RelayClient): Promise<{ seq: number; id: string }[]> {
  const out: { seq: number; id: string }[] = [];
  for (;;) {
    const page = await client.sync(out.length, 500);
    out.push(...packetsOf(page.packets).map((p) => ({ seq: p.seq, id: p.packet.id })));
    if (!page.more) return out;
  }
}

describe('several daemons on one database', () => {
  it('delivers pushes and receipts across daemons, to every device of a user', async () => {
    const alice = await user(0, 'cluster-alice');
    const bob = await user(1, 'cluster-bob');
    const bobElsewhere = await device(2, bob);
    const onBob = collectPackets(bob.client);
    const onBobElsewhere = collectPackets(bobElsewhere);
    const onAlice = collectPackets(alice.client);
    const first = sealText(alice, bob, 'from daemon 0');
    await alice.client.send(first);
    await onBob.waitFor(1);
    await onBobElsewhere.waitFor(1);
    expect(onBob.packets[0]?.packet.id).toBe(first.id);
    expect(onBobElsewhere.packets[0]?.packet.id).toBe(first.id);

    const reply = sealText(bob, alice, 'from daemon 1');
    const replyAck = await bob.client.send(reply);
    await onAlice.waitFor(1);
    await onBobElsewhere.waitFor(2);
    expect(onAlice.packets[0]?.packet.id).toBe(reply.id);
    expect(onBobElsewhere.packets[1]).toMatchObject({
      seq: replyAck.seq,
      packet: { id: reply.id },
    });

    const notices: { id: string }[] = [];
    alice.client.on('delivered', (notice) => notices.push(notice));
    await bobElsewhere.receipt(replyAck.seq);
    for (let i = 0; i < 100 && notices.length === 0; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(notices.map((n) => n.id)).toEqual([first.id]);
  }, 60_000);

  it('keeps every acknowledged packet once, seqs gapless, when a daemon is killed mid-stream', async () => {
    const carol = await user(0, 'cluster-carol');
    const dave = await user(2, 'cluster-dave');
    // Erin is on the daemon that dies and does not come back: dave, her peer, sees her go offline.
    const erin = await user(0, 'cluster-erin');
    const daveSees: PresenceUpdate[] = [];
    dave.client.on('presence', (update) => daveSees.push(update));
    await erin.client.send(sealText(erin, dave, 'hi'));
    await dave.client.send(sealText(dave, erin, 'hello'));
    const erinSeen = (online: boolean) =>
      daveSees.findLast((p) => p.identifier === erin.identifier)?.online === online;
    for (let i = 0; i < 500 && !erinSeen(true); i++) await new Promise((r) => setTimeout(r, 20));
    expect(erinSeen(true)).toBe(true);
    const acked = new Set<string>();
    let stop = false;
    const senders = Array.from({ length: 8 }, async () => {
      while (!stop) {
        const packet = sealText(carol, dave, 'mid-stream');
        try {
          await carol.client.send(packet);
          acked.add(packet.id);
        } catch {
          return; // daemon 0 died under this send: never acknowledged
        }
      }
    });
    const deadline = Date.now() + 15_000;
    while (acked.size < 60 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    const victim = daemons[0];
    if (!victim) throw new Error('no daemon 0');
    victim.child.kill('SIGKILL');
    stop = true;
    await victim.exited;
    await Promise.all(senders);
    // Carol's device reconnects to another daemon and goes on.
    const again = await device(1, carol);
    for (let i = 0; i < 20; i++) {
      const packet = sealText(carol, dave, 'after the kill');
      await again.send(packet);
      acked.add(packet.id);
    }
    const received = await stream(dave.client);
    const ids = received.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(received.map((p) => p.seq)).toEqual(received.map((_, i) => i + 1));
    expect([...acked].filter((id) => !ids.includes(id))).toEqual([]);
    const sent = await stream(again);
    expect(sent.map((p) => p.seq)).toEqual(sent.map((_, i) => i + 1));
    expect(acked.size).toBeGreaterThanOrEqual(80);
    // A daemon silent for 15 s is dead: another one reaps its sockets and tells erin's peers.
    const reaped = Date.now() + 45_000;
    while (!erinSeen(false) && Date.now() < reaped) await new Promise((r) => setTimeout(r, 100));
    expect(erinSeen(false)).toBe(true);
  }, 120_000);
});
