import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Socket } from 'node:net';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import type { RelayClient } from '../../src/cli/relay/relay-client.js';
import {
  ackEnvelopeSchema,
  bytesToHex,
  ERROR_CODES,
  MAX_BODY_BYTES,
  RELAY_ERROR_CODES,
  systemRandom,
  type Packet,
} from '../../src/core/index.js';
import { idleConnection, pauseReading, resumeReading } from '../support/paused-readers.js';
import { prng } from '../support/prng.js';
import {
  newUser,
  sealText,
  secondDevice,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { sealRaw } from '../support/seal-raw.js';

/**
 * The wire fuzz of fuzz.test.ts (12,000 malformed cases) extended to the relay's limits: seeded
 * random cases that run into a sender's quota, the free-space floor (sends and registrations),
 * pages cut at 2 MiB, page reads for a connection that does not read, and the connection caps.
 * Every answer must be a documented typed refusal (never INTERNAL) or a page within the bounds, and
 * the relay must stay up and keep serving.
 */
const CASES = 1000;
const SEED = Number(process.env['METACHAT_FUZZ_SEED'] ?? 20261202);
const DOCUMENTED = new Set<string>([...ERROR_CODES, ...RELAY_ERROR_CODES]);
const MAX_PAGE_BYTES = 2 * 1024 * 1024;
const PER_ADDRESS = 6;
const CATEGORIES = ['quota', 'floor', 'oversized-page', 'paused-pages', 'connection-caps'] as const;
type Category = (typeof CATEGORIES)[number];
const WEIGHTS: Record<Category, number> = {
  quota: 30,
  floor: 30,
  'oversized-page': 25,
  'paused-pages': 5,
  'connection-caps': 10,
};

let limited: TestRelay;
let full: TestRelay;
let carol: TestUser;
let dave: TestUser;
let erin: TestUser;
let template: Record<string, unknown>;
const cleanup: (() => unknown)[] = [];

afterAll(async () => {
  for (const step of cleanup.reverse()) await Promise.resolve(step()).catch(() => undefined);
});

function bigNote(user: TestUser): Packet {
  return sealRaw(user, user, { plaintext: new Uint8Array(MAX_BODY_BYTES) });
}

async function answer(client: RelayClient, event: string, ...args: unknown[]): Promise<unknown> {
  return client.socket
    .timeout(30_000)
    .emitWithAck(event, ...args)
    .catch(() => 'no acknowledgement');
}

/** The refusal code of an answer, 'ok' for an acceptance, or why it is neither. */
function codeOf(response: unknown): string {
  const ack = ackEnvelopeSchema.safeParse(response);
  if (!ack.success) return `malformed: ${JSON.stringify(response).slice(0, 80)}`;
  return ack.data.ok ? 'ok' : ack.data.error.code;
}

async function connections(server: TestRelay): Promise<number> {
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as { connections: number };
  return health.connections;
}

beforeAll(async () => {
  limited = await startTestRelay({
    limits: { maxConnectionsPerAddress: PER_ADDRESS, pageDrainWaitMs: 200 },
    storage: { quotaBytes: 4 * 1024 * 1024 },
  });
  cleanup.push(() => limited.stop());
  carol = await newUser(limited.url, 'carol');
  dave = await newUser(limited.url, 'dave');
  cleanup.push(
    () => carol.client.close(),
    () => dave.client.close(),
  );
  // Carol at her quota, to the last small packet; dave's stream: 60 of the largest notes (3.3 MB).
  let refused = 0;
  for (let i = 0; i < 200 && refused === 0; i++) {
    refused += codeOf(await answer(carol.client, 'send', bigNote(carol))) === 'ok' ? 0 : 1;
  }
  for (let i = 0; i < 400 && refused < 2; i++) {
    refused +=
      codeOf(await answer(carol.client, 'send', sealText(carol, dave, 'x'))) === 'ok' ? 0 : 1;
  }
  for (let i = 0; i < 60; i++) await dave.client.send(bigNote(dave));
  // Erin registers while the disk has room; then the relay restarts with a floor no disk of this
  // machine reaches, so every send and registration is refused.
  const roomy = await startTestRelay({ storage: { minFreeBytes: 0 } });
  const registered = await newUser(roomy.url, 'erin');
  registered.client.close();
  await roomy.stop(true);
  full = await startTestRelay({
    dataDir: roomy.dataDir,
    limits: { registrationsPerConnection: 1e9, registrationsPerAddressPerHour: 1e9 },
    storage: { minFreeBytes: 2 ** 50 },
  });
  cleanup.push(() => full.stop());
  erin = { ...registered, client: await secondDevice(full.url, registered) };
  cleanup.push(() => erin.client.close());
  template = { ...(await prepareRegistration('template', 'correct horse battery')).request };
}, 180_000);

describe(`fuzzing the relay's limits (seed ${String(SEED)}, ${String(CASES)} cases)`, () => {
  it('answers every case at a limit with a typed refusal or a bounded page, and stays up', async () => {
    const random = prng(SEED);
    const int = (n: number) => Math.floor(random() * n);
    const total = CATEGORIES.reduce((sum, name) => sum + WEIGHTS[name], 0);
    const draw = (): Category => {
      let roll = random() * total;
      for (const name of CATEGORIES) {
        roll -= WEIGHTS[name];
        if (roll < 0) return name;
      }
      return 'quota';
    };
    const failures: string[] = [];
    const fail = (what: string) => {
      if (failures.length < 10) failures.push(what);
    };
    const seen = new Map<Category, number>();
    const codes = new Map<string, number>();
    const count = (code: string) => codes.set(code, (codes.get(code) ?? 0) + 1);
    const idle: Socket[] = [];
    cleanup.push(() => idle.forEach((socket) => socket.destroy()));
    const messagesBefore = await Promise.all(
      [limited, full].map(async (server) => {
        const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
          messages: number;
        };
        return health.messages;
      }),
    );
    const started = Date.now();

    for (let i = 0; i < CASES; i++) {
      const category = draw();
      seen.set(category, (seen.get(category) ?? 0) + 1);
      const where = `case ${String(i)} (${category})`;
      if (category === 'quota') {
        // Any packet carol can seal, of any size, to herself or to dave: over her quota.
        const text = 'q'.repeat(1 + int(16_000));
        const packet = int(2) === 0 ? sealText(carol, dave, text) : sealText(carol, carol, text);
        const code = codeOf(await answer(carol.client, 'send', packet));
        count(code);
        if (code !== 'QUOTA_EXCEEDED') fail(`${where}: ${code}`);
      } else if (category === 'floor') {
        const register = int(3) === 0;
        const code = register
          ? codeOf(
              await answer(erin.client, 'register', {
                ...template,
                identifier: bytesToHex(systemRandom(32)),
              }),
            )
          : codeOf(
              await answer(erin.client, 'send', sealText(erin, erin, 'f'.repeat(1 + int(16_000)))),
            );
        count(code);
        if (code !== 'STORAGE_FULL') fail(`${where}: ${code}`);
      } else if (category === 'oversized-page') {
        const limit = 1 + int(500);
        const history = int(3) === 0;
        const response = history
          ? await answer(dave.client, 'history', {
              peer: dave.identifier,
              before: 1 + int(70),
              limit,
            })
          : await answer(dave.client, 'sync', { after: int(70), limit });
        const code = codeOf(response);
        count(code);
        if (code !== 'ok') {
          fail(`${where}: ${code}`);
          continue;
        }
        const { packets } = response as { packets: { packet: unknown }[] };
        const bytes = packets.reduce((sum, p) => sum + Buffer.byteLength(JSON.stringify(p)), 0);
        if (packets.length > limit)
          fail(`${where}: ${String(packets.length)} > limit ${String(limit)}`);
        if (packets.length > 1 && bytes > MAX_PAGE_BYTES)
          fail(`${where}: a page of ${String(bytes)} bytes`);
      } else if (category === 'paused-pages') {
        const device = await secondDevice(limited.url, dave);
        pauseReading(device);
        const asked = 5 + int(30);
        const answers: Promise<unknown>[] = [];
        for (let k = 0; k < asked; k++) {
          answers.push(answer(device, 'sync', { after: int(10), limit: 1 + int(500) }));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await new Promise((resolve) => setTimeout(resolve, 300));
        resumeReading(device);
        const got = (await Promise.all(answers)).map(codeOf);
        got.forEach(count);
        const pages = got.filter((code) => code === 'ok').length;
        // Only what the kernel's buffers took can have been read; the rest waited and were refused.
        if (pages > 8) fail(`${where}: ${String(pages)} pages read for a paused reader`);
        for (const code of got)
          if (code !== 'ok' && code !== 'RATE_LIMITED') fail(`${where}: ${code}`);
        device.close();
      } else {
        const localAddress = `127.0.0.${String(100 + int(50))}`;
        const wanted = 1 + int(2 * PER_ADDRESS);
        const opened: Socket[] = [];
        let refusedHere = 0;
        for (let k = 0; k < wanted; k++) {
          await idleConnection(limited.url, { localAddress, timeoutMs: 30_000 }).then(
            (socket) => opened.push(socket),
            (error: unknown) => {
              if (/upgrade refused: HTTP\/1.1 4/.test(String(error))) refusedHere++;
              else fail(`${where}: ${String(error)}`);
            },
          );
        }
        if (
          opened.length !== Math.min(wanted, PER_ADDRESS) ||
          refusedHere !== wanted - opened.length
        )
          fail(
            `${where}: ${String(opened.length)} opened, ${String(refusedHere)} refused of ${String(wanted)}`,
          );
        count(refusedHere > 0 ? 'TOO_MANY_CONNECTIONS_FROM_ADDRESS' : 'connected');
        const baseline = (await connections(limited)) - opened.length;
        opened.forEach((socket) => socket.destroy());
        // The relay counts the closes before the next case reuses an address (bounded wait).
        for (let w = 0; w < 250 && (await connections(limited)) > baseline; w++)
          await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    process.stderr.write(
      `fuzz-limits: ${String(CASES)} cases in ${String(Date.now() - started)} ms; ` +
        `${JSON.stringify(Object.fromEntries(codes))}\n`,
    );
    expect(failures).toEqual([]);
    for (const category of CATEGORIES) expect(seen.get(category) ?? 0).toBeGreaterThan(5);
    for (const code of codes.keys())
      expect(
        code === 'ok' ||
          code === 'connected' ||
          DOCUMENTED.has(code) ||
          code === 'TOO_MANY_CONNECTIONS_FROM_ADDRESS',
      ).toBe(true);
    expect(codes.has('INTERNAL')).toBe(false);
    // Both relays are up, answer, and stored nothing past their limits.
    for (const server of [limited, full])
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const messagesAfter = await Promise.all(
      [limited, full].map(async (server) => {
        const health = (await (await fetch(`${server.url}/healthz`)).json()) as {
          messages: number;
        };
        return health.messages;
      }),
    );
    expect(messagesAfter).toEqual(messagesBefore);
    expect((await dave.client.sync(0, 10)).packets.length).toBeGreaterThan(0);
    expect(await answer(carol.client, 'challenge')).toMatchObject({ ok: true });
  }, 300_000);
});
