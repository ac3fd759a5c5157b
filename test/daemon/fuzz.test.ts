import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { prepareRegistration } from '../../src/cli/account.js';
import { RelayClient } from '../../src/cli/relay-client.js';
import { ackEnvelopeSchema } from '../../src/core/index.js';
import { fuzzCases } from '../support/fuzz-cases.js';
import {
  collectPackets,
  newUser,
  sealText,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';

const CASES = 1500;
const SEED = Number(process.env['METACHAT_FUZZ_SEED'] ?? 20261125);

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;

/** Length of a payload as JSON (no payload counts as `null`). */
function encodedLength(payload: unknown): number {
  return JSON.stringify(payload ?? null).length;
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

beforeAll(async () => {
  server = await startTestRelay({
    limits: {
      eventBurst: 1e9,
      eventsPerSecond: 1e9,
      authFailuresPerConnection: 1e9,
      loginFailuresPerConnection: 1e9,
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
  it('answers every malformed or mutated event with an acknowledgement, stays up and changes nothing on disk', async () => {
    const valid = sealText(alice, bob, 'the template');
    // The template registration reuses taken identifiers, so a mutation that is still well formed
    // (a flipped proof byte, say) meets ALREADY_REGISTERED and the key directory cannot change.
    const { request } = await prepareRegistration('mallory', 'correct horse battery');
    await alice.client.register({ ...request, identifier: 'f'.repeat(64) });
    const cases = fuzzCases(SEED, valid, { ...request, identifier: alice.identifier });
    const anonymous = await RelayClient.connect(server.url);
    const before = await snapshot(server.dataDir);
    const refusals = new Map<string, number>();
    const started = Date.now();
    for (let i = 0; i < CASES && Date.now() - started < 45_000; i++) {
      let fuzz = cases.next();
      // Frames over the transport limit are dropped whole (tested below), not answered: keep under it.
      while (encodedLength(fuzz.payload) > 60_000) fuzz = cases.next();
      const { event, payload, mustRefuse } = fuzz;
      const client = i % 5 === 0 ? anonymous : alice.client;
      const response = await client.raw(event, payload);
      const ack = ackEnvelopeSchema.safeParse(response);
      if (!ack.success) throw new Error(`case ${i} (${event}) got a malformed acknowledgement`);
      if (mustRefuse && ack.data.ok) throw new Error(`case ${i} (${event}) was accepted`);
      if (!ack.data.ok)
        refusals.set(ack.data.error.code, (refusals.get(ack.data.error.code) ?? 0) + 1);
    }
    anonymous.close();
    expect(await snapshot(server.dataDir)).toEqual(before);
    expect(refusals.get('INTERNAL')).toBeUndefined();
    expect([...refusals.values()].reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1000);
    expect(refusals.size).toBeGreaterThanOrEqual(5);

    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const inbox = collectPackets(bob.client);
    await alice.client.send(sealText(alice, bob, 'after the storm'));
    expect(await inbox.waitFor(1)).toHaveLength(1);
  }, 60_000);

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
