import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { RelayRefusedError, type RelayClient } from '../../src/cli/relay/relay-client.js';
import { DEFAULT_LIMITS } from '../../src/daemon/config.js';
import { startRelay, type Relay } from '../../src/daemon/relay.js';
import { DEFAULT_STORAGE_LIMITS } from '../../src/daemon/storage-limits.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import { collectPackets, newUser, sealText, type TestUser } from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

// PostgreSQL itself killed (SIGKILL) and started again under two running daemons.
let server: PostgresServer;
let url: string;
const relays: Relay[] = [];
const clients: RelayClient[] = [];

async function daemon(): Promise<Relay> {
  const relay = await startRelay(
    {
      host: '127.0.0.1',
      port: 0,
      dataDir: '/nonexistent',
      postgresUrl: url,
      logLevel: 'silent',
      allowedOrigins: [],
      trustProxy: [],
      limits: { ...DEFAULT_LIMITS, eventsPerSecond: 1e6, eventBurst: 1e6 },
      storage: DEFAULT_STORAGE_LIMITS,
    },
    pino({ level: 'silent' }),
  );
  relays.push(relay);
  return relay;
}

beforeAll(async () => {
  server = await startPostgres();
  url = await server.createDatabase();
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const relay of relays) await relay.close();
  await server.stop();
});

async function user(relay: Relay, name: string): Promise<TestUser> {
  const made = await newUser(relay.url, name);
  clients.push(made.client);
  return made;
}

function codeOf(error: unknown): string {
  return error instanceof RelayRefusedError ? error.code : `thrown: ${String(error)}`;
}

async function wholeStream(client: RelayClient): Promise<{ seq: number; id: string }[]> {
  const out: { seq: number; id: string }[] = [];
  for (let pages = 0; pages < 100; pages++) {
    const page = await client.sync(out.length, 500);
    out.push(...packetsOf(page.packets).map((p) => ({ seq: p.seq, id: p.packet.id })));
    if (!page.more) return out;
  }
  throw new Error('the stream did not end in 100 pages');
}

describe('PostgreSQL restarted under several daemons', () => {
  it('refuses sends with STORE_FAILED meanwhile, loses nothing acknowledged, and recovers without a restart', async () => {
    const a = await daemon();
    const b = await daemon();
    const alice = await user(a, 'restart-alice');
    const bob = await user(b, 'restart-bob');
    const onBob = collectPackets(bob.client);
    const acked = new Set<string>();
    const refusals: string[] = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    let stop = false;
    // Four senders on each daemon, each send bounded by the client's own timeout.
    const senders = [alice, bob].flatMap((from) =>
      Array.from({ length: 4 }, async () => {
        const to = from === alice ? bob : alice;
        for (let i = 0; i < 2_000 && !stop; i++) {
          const packet = sealText(from, to, `${phase} ${i}`);
          try {
            await from.client.send(packet);
            acked.add(packet.id);
          } catch (error) {
            refusals.push(codeOf(error));
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }),
    );
    const until = async (done: () => boolean, ms: number, what: string) => {
      const deadline = Date.now() + ms;
      while (!done()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    await until(() => acked.size >= 40, 30_000, '40 acknowledged sends');
    await server.kill();
    phase = 'down';
    const ackedBeforeKill = acked.size;
    await until(() => refusals.length >= 8, 30_000, 'refusals while PostgreSQL is down');
    await server.start();
    phase = 'after';
    const ackedAtRestart = acked.size;
    await until(() => acked.size >= ackedAtRestart + 40, 60_000, 'sends to succeed again');
    stop = true;
    await Promise.all(senders);
    expect(new Set(refusals)).toEqual(new Set(['STORE_FAILED']));
    expect(ackedBeforeKill).toBeGreaterThanOrEqual(40);

    // Pushes cross daemons again once the listening link is back (it retries every 1 to 3 s).
    let pushed = false;
    for (let i = 0; i < 60 && !pushed; i++) {
      const probe = sealText(alice, bob, `probe ${i}`);
      await alice.client.send(probe);
      acked.add(probe.id);
      const before = onBob.packets.length;
      await new Promise((r) => setTimeout(r, 250));
      pushed = onBob.packets.slice(before).some((p) => p.packet.id === probe.id);
    }
    expect(pushed).toBe(true);

    for (const who of [alice, bob]) {
      const stream = await wholeStream(who.client);
      const ids = stream.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(stream.map((p) => p.seq)).toEqual(stream.map((_, i) => i + 1));
    }
    const held = new Set((await wholeStream(alice.client)).map((p) => p.id));
    expect([...acked].filter((id) => !held.has(id))).toEqual([]);
  }, 180_000);

  it('closes a daemon within a bound while PostgreSQL is down', async () => {
    const c = await daemon();
    const carol = await user(c, 'restart-carol');
    await carol.client.send(sealText(carol, carol, 'note'));
    await server.kill();
    const started = Date.now();
    relays.splice(relays.indexOf(c), 1);
    await c.close();
    // A bound on failure, not a performance figure: the store's pool ends within 5 s, the link's within 2 s.
    expect(Date.now() - started).toBeLessThan(20_000);
    await server.start();
  }, 60_000);
});
