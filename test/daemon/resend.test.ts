import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RelayRefusedError } from '../../src/cli/relay/relay-client.js';
import { identifierFromUsername, type Packet } from '../../src/core/index.js';
import {
  newUser,
  sealText,
  startTestRelay,
  type TestRelay,
  type TestUser,
} from '../support/relay-harness.js';
import { packetsOf } from '../support/records.js';

let server: TestRelay;
let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  server = await startTestRelay();
  alice = await newUser(server.url, 'alice');
  bob = await newUser(server.url, 'bob');
  carol = await newUser(server.url, 'carol');
});

afterAll(async () => {
  for (const user of [alice, bob, carol]) user.client.close();
  await server.stop();
});

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_FIELDS = ['iv', 'ct', 'keyTo', 'keyFrom', 'sig'] as const;

/** The text with one base64 character changed (still canonical: never the last character before padding). */
function changedAt(text: string, at: number): string {
  const next = ALPHABET[(ALPHABET.indexOf(text[at] ?? 'A') + 1) % 64] ?? 'A';
  return `${text.slice(0, at)}${next}${text.slice(at + 1)}`;
}

/** Every way this test changes one field of a stored packet while keeping its id and its shape. */
function variants(packet: Packet): { what: string; packet: Packet }[] {
  const out: { what: string; packet: Packet }[] = [];
  for (const field of BASE64_FIELDS) {
    const text = packet[field];
    const last = text.replace(/=+$/, '').length - 2;
    for (const at of [0, Math.floor(last / 2), last]) {
      out.push({
        what: `${field}[${String(at)}]`,
        packet: { ...packet, [field]: changedAt(text, at) },
      });
    }
  }
  out.push({ what: 'time + 1', packet: { ...packet, time: packet.time + 1 } });
  out.push({ what: 'time - 1', packet: { ...packet, time: packet.time - 1 } });
  out.push({ what: 'to: another registered user', packet: { ...packet, to: carol.identifier } });
  return out;
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof RelayRefusedError) return error.code;
    throw error;
  }
  return 'ok';
}

describe('a resend of a stored packet', () => {
  it('is acknowledged again, at the same seq and time, when equal in every field', async () => {
    const packet = sealText(alice, bob, 'sent twice');
    const first = await alice.client.send(packet);
    const again = await alice.client.send({ ...packet });
    expect(first.duplicate).toBe(false);
    expect(again).toEqual({ ...first, duplicate: true });
  });

  it('with the same id and any one field changed is verified and refused; nothing is stored', async () => {
    const packet = sealText(alice, bob, 'the original');
    await alice.client.send(packet);
    const before = (await bob.client.sync(0, 500)).packets;
    const refusals: Record<string, string> = {};
    for (const { what, packet: changed } of variants(packet)) {
      refusals[what] = await codeOf(() => alice.client.send(changed));
    }
    expect(Object.keys(refusals)).toHaveLength(18);
    expect(refusals).toEqual(
      Object.fromEntries(Object.keys(refusals).map((what) => [what, 'SIGNATURE_INVALID'])),
    );
    const after = packetsOf((await bob.client.sync(0, 500)).packets);
    expect(after).toEqual(before);
    expect(after.find((stored) => stored.packet.id === packet.id)?.packet).toEqual(packet);
    expect((await carol.client.sync(0, 500)).packets).toEqual([]);
    // The original is still acknowledged as the duplicate it is.
    expect((await alice.client.send(packet)).duplicate).toBe(true);
  });
});

describe('the checks a resend does not skip', () => {
  it('refuses a stored packet sent again by another user (FORBIDDEN_SENDER)', async () => {
    const packet = sealText(alice, bob, 'mine alone');
    await alice.client.send(packet);
    expect(await codeOf(() => bob.client.send(packet))).toBe('FORBIDDEN_SENDER');
  });

  it('refuses a packet to an identifier nobody registered (UNKNOWN_IDENTIFIER), stored or not', async () => {
    const ghost = { ...bob, identifier: identifierFromUsername('nobody-registered') };
    const packet = sealText(alice, ghost, 'to nobody');
    expect(await codeOf(() => alice.client.send(packet))).toBe('UNKNOWN_IDENTIFIER');
    expect(await codeOf(() => alice.client.send(packet))).toBe('UNKNOWN_IDENTIFIER');
  });
});
