import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareRegistration } from '../../src/cli/relay/account.js';
import { RelayClient } from '../../src/cli/relay/relay-client.js';
import { ackEnvelopeSchema, ERROR_CODES, RELAY_ERROR_CODES } from '../../src/core/index.js';
import { FUZZ_CATEGORIES, fuzzCases, type FuzzCase } from '../support/fuzz-cases.js';
import { prng } from '../support/prng.js';
import {
  collectPackets,
  newUser,
  secondDevice,
  sealText,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

/** Malformed input; the cases at the relay's limits are in fuzz-limits.test.ts. */
const CASES = 12_000;
const SEED = Number(process.env['METACHAT_FUZZ_SEED'] ?? 20261125);
const DOCUMENTED_CODES = new Set<string>([...ERROR_CODES, ...RELAY_ERROR_CODES]);

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;

/** Size of a case's arguments as UTF-8 JSON, about the size of its frame. */
function encodedBytes(args: readonly unknown[]): number {
  return Buffer.byteLength(JSON.stringify(args));
}

async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    out.set(
      path,
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
  }
  return out;
}

/** What the relay says about itself and what alice's stream holds: neither may change. */
async function relayState(): Promise<unknown> {
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
  const page = await alice.client.sync(0, 500);
  return {
    users: health['users'],
    messages: health['messages'],
    stream: packetsOf(page.packets).map((p) => [p.seq, p.packet.id]),
  };
}

/** Sends one case; the acknowledgement, or undefined for a case sent without one. */
async function play(client: RelayClient, fuzz: FuzzCase): Promise<unknown> {
  const event = fuzz.event as string;
  if (!fuzz.ack) {
    client.socket.emit(event, ...fuzz.args);
    return undefined;
  }
  const connected = client.socket.connected;
  return client.socket
    .timeout(5000)
    .emitWithAck(event, ...fuzz.args)
    .catch(
      () =>
        `no acknowledgement (connected before: ${connected}, after: ${client.socket.connected})`,
    );
}

/** Why an acknowledgement does not meet its case, or undefined when it does. */
function verdict(fuzz: FuzzCase, response: unknown): string | undefined {
  if (typeof response === 'string') return response;
  const ack = ackEnvelopeSchema.safeParse(response);
  if (!ack.success) return 'a malformed acknowledgement';
  if (ack.data.ok) return fuzz.mustRefuse ? 'accepted' : undefined;
  const { code } = ack.data.error;
  if (!DOCUMENTED_CODES.has(code) || code === 'INTERNAL') return `refused with ${code}`;
  if (fuzz.codes && !fuzz.codes.includes(code))
    return `refused with ${code}, not ${fuzz.codes.join('|')}`;
  return undefined;
}

beforeAll(async () => {
  server = await startTestRelay({
    limits: {
      eventBurst: 1e9,
      eventsPerSecond: 1e9,
      authFailuresPerConnection: 1e9,
      loginFailuresPerConnection: 1e9,
      loginFailuresPerAddress: 1e9,
      unauthenticatedTimeoutMs: 10 * 60_000,
    },
  });
  alice = await newUser(server.url, 'alice');
  bob = await newUser(server.url, 'bob');
  await alice.client.send(sealText(alice, bob, 'before the storm'));
});

afterAll(async () => {
  alice.client.close();
  bob.client.close();
  await server.stop();
});

describe(`wire fuzzing (seed ${SEED}, ${CASES} cases)`, () => {
  it('refuses every malformed, mutated or unknown event with an error acknowledgement, stays up and changes nothing', async () => {
    // The template registration reuses a taken identifier, so a mutation that is still well formed
    // (a flipped proof byte, say) meets ALREADY_REGISTERED and the key directory cannot change.
    const { request } = await prepareRegistration('mallory', 'correct horse battery');
    await alice.client.register({ ...request, identifier: 'f'.repeat(64) });
    const cases = fuzzCases(SEED, {
      packet: sealText(alice, bob, 'the template'),
      register: { ...request, identifier: alice.identifier },
      identifier: alice.identifier,
      peer: bob.identifier,
    });
    const failures: string[] = [];
    const anonymous = await RelayClient.connect(server.url);
    let current = 'before the first case';
    for (const [name, client] of [
      ['the anonymous connection', anonymous],
      ['alice', alice.client],
    ] as const) {
      client.socket.once('disconnect', (reason) => {
        failures.push(`${name} was disconnected (${reason}) at ${current}`);
      });
    }
    const before = await snapshot(server.dataDir);
    const stateBefore = await relayState();
    const prototypeBefore = Reflect.ownKeys(Object.prototype);
    const seen = new Map<string, number>();
    const codes = new Map<string, number>();
    for (let i = 0; i < CASES; i++) {
      let fuzz = cases.next();
      // Frames over the transport limit are dropped whole (tested below), not answered: keep under it.
      while (encodedBytes(fuzz.args) > 60_000) fuzz = cases.next();
      seen.set(fuzz.category, (seen.get(fuzz.category) ?? 0) + 1);
      current = `case ${i} (${fuzz.category}, event ${String(fuzz.event).slice(0, 20)})`;
      const client = fuzz.authenticated || i % 4 !== 0 ? alice.client : anonymous;
      const response = await play(client, fuzz);
      if (!fuzz.ack) continue;
      const problem = verdict(fuzz, response);
      if (problem !== undefined && failures.length < 10) failures.push(`${current}: ${problem}`);
      const code = (response as { error?: { code?: string } }).error?.code;
      if (code !== undefined) codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    expect(failures).toEqual([]);
    expect(await anonymous.raw('challenge')).toMatchObject({ ok: true });
    anonymous.close();
    expect(await snapshot(server.dataDir)).toEqual(before);
    expect(await relayState()).toEqual(stateBefore);
    // The relay runs in this process: no `__proto__` or `constructor` key reached Object.prototype.
    expect(Reflect.ownKeys(Object.prototype)).toEqual(prototypeBefore);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    for (const category of FUZZ_CATEGORIES) expect(seen.get(category) ?? 0).toBeGreaterThan(150);
    expect([...codes.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0.9 * CASES);
    expect(codes.size).toBeGreaterThanOrEqual(10);

    const inbox = collectPackets(bob.client);
    await alice.client.send(sealText(alice, bob, 'after the storm'));
    expect(await inbox.waitFor(1)).toHaveLength(1);
    // 15 s on the shared 2-core machine: the deadline leaves room for a heavily loaded one.
  }, 240_000);

  it('closes a connection that sends a malformed or reserved frame, and stays up', async () => {
    const random = prng(SEED);
    const valid = '2["sync",{"after":0}]';
    const frames = [
      '2["disconnect"]',
      '2["disconnecting","x"]',
      '2["connect",{}]',
      '2["connect_error"]',
      '2["newListener","send"]',
      '2["removeListener","send"]',
      '2{"a":1}',
      '2[]',
      '2[null]',
      '2[{}]',
      '2["send",',
      '9["send",{}]',
      '1',
      '0/admin,',
      '5-["send",{"_placeholder":true,"num":0}]',
      '299999999999999999999999["sync",{"after":0}]',
      ...Array.from({ length: 150 }, () => {
        const at = Math.floor(random() * valid.length);
        return (
          valid.slice(0, at) +
          String.fromCharCode(32 + Math.floor(random() * 95)) +
          valid.slice(at + 1)
        );
      }),
    ];
    const stateBefore = await relayState();
    const device = await secondDevice(server.url, alice);
    let closed = 0;
    let client = await RelayClient.connect(server.url);
    for (const frame of [...frames, '2["disconnect"]']) {
      client.socket.io.engine.write(frame);
      const alive = await client.raw('challenge').then(
        () => true,
        () => false,
      );
      if (!alive) {
        closed++;
        client.close();
        client = await RelayClient.connect(server.url);
      }
    }
    client.close();
    // A reserved name from an authenticated device closes it; it never passes as a real event.
    device.socket.io.engine.write('2["disconnect"]');
    await new Promise<void>((resolve) => {
      if (device.socket.disconnected) resolve();
      else device.socket.once('disconnect', () => resolve());
    });
    device.close();
    expect(closed).toBeGreaterThanOrEqual(10);
    expect(await relayState()).toEqual(stateBefore);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  }, 30_000);

  it('drops a connection that sends a frame over the size limit, and stays up', async () => {
    const client = await RelayClient.connect(server.url);
    const dropped = new Promise<void>((resolve) =>
      client.socket.once('disconnect', () => resolve()),
    );
    client.socket.emit('send', { blob: 'x'.repeat(200_000) });
    await dropped;
    client.close();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});

describe('events named after inherited properties', () => {
  it.each(['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty'])(
    'answers %s with UNKNOWN_EVENT, before and after authentication, and stays up',
    async (event) => {
      const anonymous = await RelayClient.connect(server.url);
      expect(await anonymous.raw(event, {})).toMatchObject({
        ok: false,
        error: { code: 'UNKNOWN_EVENT' },
      });
      anonymous.close();
      expect(await alice.client.raw(event, {})).toMatchObject({
        ok: false,
        error: { code: 'UNKNOWN_EVENT' },
      });
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    },
  );

  it('ignores events without an acknowledgement callback and stays up', async () => {
    alice.client.socket.emit('send', { junk: true });
    alice.client.socket.emit('constructor');
    expect(await alice.client.raw('sync', { after: 0 })).toMatchObject({ ok: true });
  });
});
