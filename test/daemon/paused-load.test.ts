import { afterAll, describe, expect, it } from '@jest/globals';
import { readFile, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import { MAX_BODY_BYTES, type Packet } from '../../src/core/index.js';
import { killAllDaemons, spawnDaemon } from '../support/daemon-process.js';
import { idleConnection, pauseReading, resumeReading } from '../support/paused-readers.js';
import {
  collectPackets,
  newUser,
  sealText,
  secondDevice,
  tempDir,
  type TestUser,
} from '../support/relay-harness.js';
import { sealRaw } from '../support/seal-raw.js';

/**
 * Issue 10's load: 16 paused authenticated sockets keep asking for 2 MB `sync` pages of a stream of
 * the largest notes to self (and get pushed more of them), 1,000 idle unauthenticated connections
 * sit on the relay, and two honest users keep chatting. The daemon is a child process, so its
 * resident memory is read from /proc/<pid>/status.
 *
 * Measured on the shared 2-core machine (daemon from source through tsx, loopback): 109 MiB at
 * start, about 160 MiB with the 1,000 idle connections, a peak of 291 and 299 MiB in two runs under
 * the load; the bound is that with 1.5x headroom. With the output budget and the page-read
 * threshold lifted to 8 GiB, the same 25 s reached 1,610 MiB (and the issue saw a V8 heap
 * out-of-memory at about 3.9 GB after 20 s). The figure of each run is printed on stderr.
 */
const RSS_BOUND_MIB = 450;
const PAUSED_PER_ATTACKER = 8;
const IDLE_CONNECTIONS = 1000;
/** Idle connections per loopback source address: under the default cap of 64 per address. */
const IDLE_PER_ADDRESS = 50;
const NOTES_PER_ATTACKER = 80;
const CHAT_MESSAGES = 40;
/** How long the load runs (bounded in count too, below). */
const LOAD_MS = 25_000;

const cleanup: (() => unknown)[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
  await killAllDaemons();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A note to self at the largest size the relay takes: about 55 KB on the wire. */
function bigNote(user: TestUser): Packet {
  return sealRaw(user, user, { plaintext: new Uint8Array(MAX_BODY_BYTES) });
}

async function residentMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${String(pid)}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match?.[1]) throw new Error('no VmRSS in /proc status');
  return Number(match[1]) / 1024;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the relay under paused readers and idle connections', () => {
  it('keeps its memory bounded, the honest users chatting and /healthz answering', async () => {
    const dataDir = await tempDir();
    dirs.push(dataDir);
    // Defaults for every limit, but idle connections live 10 minutes instead of 60 s: this test
    // holds them for its whole length (the 60 s lifetime has its own test in connection-limits).
    const daemon = await spawnDaemon(dataDir, ['--unauthenticated-timeout', '600']);
    const pid = daemon.child.pid;
    if (pid === undefined) throw new Error('no daemon pid');
    const rss = { start: await residentMiB(pid), peak: 0, samples: 0 };
    const sampling = { on: true };
    const sampler = (async () => {
      // Every 100 ms while the test runs (and at most 10 minutes' worth).
      for (let i = 0; i < 6000 && sampling.on; i++) {
        rss.peak = Math.max(rss.peak, await residentMiB(pid));
        rss.samples++;
        await sleep(100);
      }
    })();

    const alice = await newUser(daemon.url, 'alice');
    const bob = await newUser(daemon.url, 'bob');
    const attackers = [await newUser(daemon.url, 'mallory'), await newUser(daemon.url, 'eve')];
    for (const user of [alice, bob, ...attackers]) cleanup.push(() => user.client.close());
    for (const attacker of attackers) {
      for (let i = 0; i < NOTES_PER_ATTACKER; i++) await attacker.client.send(bigNote(attacker));
    }

    // 1,000 idle unauthenticated connections from 20 loopback addresses, 50 at a time.
    const idle: Socket[] = [];
    cleanup.push(() => idle.forEach((socket) => socket.destroy()));
    for (let batch = 0; batch < IDLE_CONNECTIONS / IDLE_PER_ADDRESS; batch++) {
      const localAddress = `127.0.0.${String(10 + batch)}`;
      idle.push(
        ...(await Promise.all(
          Array.from({ length: IDLE_PER_ADDRESS }, () =>
            idleConnection(daemon.url, { localAddress, timeoutMs: 30_000 }),
          ),
        )),
      );
    }
    const afterIdle = await residentMiB(pid);

    // 16 paused authenticated devices, 8 of each attacker.
    const paused: RelayClient[] = [];
    for (const attacker of attackers) {
      for (let i = 0; i < PAUSED_PER_ATTACKER; i++) {
        const device = await secondDevice(daemon.url, attacker);
        cleanup.push(() => {
          // Read again first: a paused socket would wait out the WebSocket closing handshake.
          resumeReading(device);
          device.close();
        });
        pauseReading(device);
        paused.push(device);
      }
    }

    const deadline = Date.now() + LOAD_MS;
    let asked = 0;
    // Each paused device asks for the whole stream, 2 MB a page, every 50 ms: at most 500 times.
    const askers = paused.map(async (device) => {
      for (let i = 0; i < 500 && Date.now() < deadline; i++) {
        device.socket.emit('sync', { after: 0, limit: 500 }, () => undefined);
        asked++;
        await sleep(50);
      }
    });
    // Each attacker's writer keeps adding notes, pushed to its 8 paused devices: at most 60.
    let pushedNotes = 0;
    const writers = attackers.map(async (attacker) => {
      for (let i = 0; i < 60 && Date.now() < deadline; i++) {
        await attacker.client.send(bigNote(attacker));
        pushedNotes++;
        await sleep(250);
      }
    });
    // /healthz every 500 ms.
    const health: number[] = [];
    const prober = (async () => {
      while (Date.now() < deadline && health.length < 200) {
        const response = await fetch(`${daemon.url}/healthz`, {
          signal: AbortSignal.timeout(20_000),
        });
        health.push(response.status);
        await response.body?.cancel();
        await sleep(500);
      }
    })();
    // The honest users take turns; each message must be acknowledged and pushed to the other.
    const inbox = { alice: collectPackets(alice.client), bob: collectPackets(bob.client) };
    const latencies: number[] = [];
    for (let i = 0; i < CHAT_MESSAGES; i++) {
      const [from, to, box] = i % 2 === 0 ? [alice, bob, inbox.bob] : [bob, alice, inbox.alice];
      const started = Date.now();
      const packet = sealText(from, to, `message ${String(i)}`);
      const ack = await from.client.send(packet);
      expect(ack.duplicate).toBe(false);
      const arrived = await box.waitFor(Math.floor(i / 2) + 1, 30_000);
      expect(arrived.at(-1)?.packet.id).toBe(packet.id);
      latencies.push(Date.now() - started);
      await sleep(Math.max(0, Math.min(500, deadline - Date.now()) / (CHAT_MESSAGES - i)));
    }
    await Promise.all([...askers, ...writers, prober]);
    sampling.on = false;
    await sampler;

    const sorted = [...latencies].sort((a, b) => a - b);
    process.stderr.write(
      `paused-load: daemon RSS ${rss.start.toFixed(0)} MiB at start, ${afterIdle.toFixed(0)} MiB ` +
        `with ${String(idle.length)} idle connections, peak ${rss.peak.toFixed(0)} MiB ` +
        `(${String(rss.samples)} samples; bound ${String(RSS_BOUND_MIB)} MiB); ${String(asked)} page ` +
        `requests from ${String(paused.length)} paused devices, ${String(pushedNotes)} notes pushed ` +
        `to them; ${String(latencies.length)} honest messages, send-to-push median ` +
        `${String(sorted[Math.floor(sorted.length / 2)])} ms, max ${String(sorted.at(-1))} ms; ` +
        `${String(health.length)} health checks\n`,
    );
    expect(latencies).toHaveLength(CHAT_MESSAGES);
    expect(health.length).toBeGreaterThanOrEqual(5);
    expect(health.every((status) => status === 200)).toBe(true);
    expect(asked).toBeGreaterThan(1000);
    expect(rss.peak).toBeLessThan(RSS_BOUND_MIB);
    // The relay is still the same process, it still holds the idle connections, and it answers.
    expect(daemon.child.exitCode).toBeNull();
    const after = (await (await fetch(`${daemon.url}/healthz`)).json()) as {
      connections: number;
    };
    expect(after.connections).toBeGreaterThanOrEqual(IDLE_CONNECTIONS + 4);
    expect(daemon.stderr()).not.toMatch(/heap out of memory|FATAL ERROR/);
  }, 240_000);
});
