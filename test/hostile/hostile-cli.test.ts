import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  generateKeyPair,
  type KeyPair,
  type Packet,
  type StoredPacket,
} from '../../src/core/index.js';
import type { CliResult } from '../support/cli-process.js';
import type { Behaviour, HostileRelay } from './hostile-relay.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';
import { startListening } from './listening-cli.js';
import { alterPackets, flipBase64, rewriteStream } from './tampering.js';

/** The red `!!` line the CLI writes on stderr for every detected attack. */
const RED = '\u001b[31m!! ';
const RED_WARNING = new RegExp(RED.replace('[', '\\['));
let world: HostileCliWorld;
let hostile: HostileRelay;
const PASSWORD = HOSTILE_CLI_PASSWORD;
const home = (name: string): string => world.home(name);
const cli = (name: string, args: string[]): Promise<CliResult> => world.cli(name, args);
const id = (name: string): string => world.id(name);
let mallory: KeyPair;

/** Runs `send --json` and returns the packet id the CLI printed. */
async function send(from: string, to: string, text: string): Promise<string> {
  const result = await cli(from, ['send', to, text, '--json']);
  expect(result.code).toBe(0);
  return String(jsonLines(result.stdout)[0]?.['id']);
}

function substituteKey(victim: string): Behaviour {
  return {
    answer(event, payload) {
      if (event !== 'key' || (payload as { identifier?: unknown }).identifier !== victim)
        return undefined;
      return { ok: true, publicKey: mallory.publicKey.encoded };
    },
  };
}

/** The requests that reached the hostile relay while `run` ran. */
async function requestsDuring(run: () => Promise<void>): Promise<string[]> {
  const before = hostile.requests.length;
  await run();
  return hostile.requests.slice(before).map((request) => request.event);
}

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-hostile-homes-');
  ({ hostile } = world);
  mallory = await generateKeyPair();
  for (const name of ['alice', 'bob', 'dave']) await world.register(name);
}, 90_000);

afterAll(async () => {
  await world.stop();
});

describe('the real CLI against a hostile relay', () => {
  it('history: an altered ciphertext gives a red warning and the forged text never reaches stdout', async () => {
    const secret = 'meet at the north gate';
    const packetId = await send('alice', id('bob'), secret);
    hostile.behave(
      alterPackets(
        id('bob'),
        (stored) => stored.packet.id === packetId,
        (stored) => ({ ...stored, packet: { ...stored.packet, ct: flipBase64(stored.packet.ct) } }),
      ),
    );
    try {
      const result = await cli('bob', ['history', id('alice')]);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(RED_WARNING);
      expect(result.stderr).toMatch(/not signed by the sender it names: it was forged or altered/);
      expect(result.stdout).not.toContain(secret);
      const json = await cli('bob', ['history', id('alice'), '--json']);
      expect(jsonLines(json.stdout)).toEqual([
        expect.objectContaining({ id: packetId, code: 'SIGNATURE_INVALID' }),
      ]);
    } finally {
      hostile.behave({});
    }
    expect((await cli('bob', ['history', id('alice')])).stdout).toContain(secret);
  }, 60_000);

  it('history --json: each altered header field and swapped wrapped keys give their own warning, never the text', async () => {
    const alterations: [string, (packet: Packet) => Packet][] = [
      ['from', (p) => ({ ...p, from: id('bob') })],
      ['to', (p) => ({ ...p, to: id('bob') })],
      ['time', (p) => ({ ...p, time: p.time - 60_000 })],
      ['id', (p) => ({ ...p, id: p.id.replace(/^./, (c) => (c === '0' ? '1' : '0')) })],
      ['keys', (p) => ({ ...p, keyTo: p.keyFrom, keyFrom: p.keyTo })],
    ];
    const alterOf = new Map<string, (packet: Packet) => Packet>();
    for (const [field, alter] of alterations)
      alterOf.set(await send('alice', id('dave'), `altered ${field}`), alter);
    await send('alice', id('dave'), 'left alone');
    hostile.behave(
      alterPackets(
        id('dave'),
        (stored) => alterOf.has(stored.packet.id),
        (stored) => ({
          ...stored,
          packet: alterOf.get(stored.packet.id)?.(stored.packet) ?? stored.packet,
        }),
      ),
    );
    let result: CliResult;
    try {
      result = await cli('dave', ['history', id('alice'), '--json']);
    } finally {
      hostile.behave({});
    }
    expect(result.code).toBe(0);
    expect(result.stdout).not.toMatch(/altered (from|to|time|id|keys)/);
    const lines = jsonLines(result.stdout);
    expect(lines.map((line) => line['text'] ?? line['code'])).toEqual([
      'WRONG_CONVERSATION',
      'WRONG_CONVERSATION',
      'SIGNATURE_INVALID',
      'SIGNATURE_INVALID',
      'SIGNATURE_INVALID',
      'left alone',
    ]);
    expect(result.stderr.split('\n').filter((line) => line.startsWith(RED))).toHaveLength(5);
  }, 60_000);

  it('listen --json: a dropped message is reported as STREAM_GAP, a replayed one as PACKET_REPLAYED, each text shown once', async () => {
    const listening = startListening(home('bob'), hostile.url, PASSWORD);
    try {
      await listening.waitForStdout(/north gate/, 15_000);
      const sent: string[] = [];
      hostile.behave({
        answer(event, payload) {
          if (event === 'send') sent.push((payload as Packet).id);
          return undefined;
        },
        ...rewriteStream(id('bob'), (packets) =>
          packets.filter((stored) => stored.packet.id !== sent[1]),
        ),
      });
      for (const text of ['first of three', 'second of three', 'third of three']) {
        await send('alice', id('bob'), text);
      }
      await listening.waitForStdout(/STREAM_GAP/);
      const first = jsonLines(listening.stdout()).find((line) => line['text'] === 'first of three');
      expect(first).toBeDefined();
      const [conn] = hostile.connectionsOf(id('bob'));
      const page = (await conn?.ask('sync', { after: Number(first?.['seq']) - 1, limit: 1 })) as {
        packets: StoredPacket[];
      };
      const original = page.packets[0];
      expect(original?.packet.id).toBe(first?.['id']);
      const lastSeq = Math.max(
        ...jsonLines(listening.stdout()).map((line) => Number(line['seq'] ?? 0)),
      );
      conn?.push('packet', { ...original, seq: lastSeq + 1 });
      await listening.waitForStdout(/PACKET_REPLAYED/);
    } finally {
      hostile.behave({});
    }
    expect(await listening.stop()).toBe(0);
    const lines = jsonLines(listening.stdout());
    const texts = lines.flatMap((line) => (typeof line['text'] === 'string' ? [line['text']] : []));
    expect(texts.filter((text) => text === 'first of three')).toHaveLength(1);
    expect(texts).toContain('third of three');
    expect(texts).not.toContain('second of three');
    expect(lines.map((line) => line['code']).filter(Boolean)).toEqual([
      'STREAM_GAP',
      'PACKET_REPLAYED',
    ]);
    expect(listening.stderr()).toMatch(
      new RegExp(`${RED_WARNING.source}The relay withheld message \\d+ of your stream`),
    );
    expect(listening.stderr()).toMatch(
      new RegExp(`${RED_WARNING.source}The relay replayed packet`),
    );
  }, 90_000);

  it('inbox: a stream rolled back below what the device saw, or with a packet repeated, is reported', async () => {
    const profile = JSON.parse(await readFile(join(home('bob'), 'profile.json'), 'utf8')) as {
      seenUpTo: number;
    };
    expect(profile.seenUpTo).toBeGreaterThan(2);
    hostile.behave(
      rewriteStream(id('bob'), (packets, route) =>
        route === 'sync' ? packets.filter((stored) => stored.seq < profile.seenUpTo - 1) : packets,
      ),
    );
    try {
      const rolledBack = await cli('bob', ['inbox']);
      expect(rolledBack.code).toBe(0);
      expect(rolledBack.stderr).toMatch(RED_WARNING);
      expect(rolledBack.stderr).toMatch(/withheld or rolled back the newest messages/);
    } finally {
      hostile.behave({});
    }
    hostile.behave(
      rewriteStream(id('bob'), (packets, route) => {
        const first = packets[0];
        if (route !== 'sync' || !first) return packets;
        const end = packets.at(-1)?.seq ?? 0;
        return [...packets, { ...first, seq: end + 1 }];
      }),
    );
    try {
      const repeated = await cli('bob', ['inbox', '--json']);
      expect(repeated.stderr).toMatch(/The relay replayed packet/);
      expect(jsonLines(repeated.stdout)).toContainEqual(
        expect.objectContaining({ code: 'PACKET_REPLAYED' }),
      );
    } finally {
      hostile.behave({});
    }
  }, 60_000);

  it("inbox: a forged packet slipped in before a peer's hello neither counts nor keeps its name from being learned", async () => {
    for (const name of ['nina', 'oscar']) await world.register(name);
    await send('nina', id('oscar'), 'hello oscar');
    hostile.behave(
      rewriteStream(id('oscar'), (packets, route) => {
        const first = packets[0];
        if (route !== 'sync' || !first) return packets;
        const forged = { ...first, packet: { ...first.packet, id: 'f'.repeat(32) } };
        return [forged, ...packets.map((stored) => ({ ...stored, seq: stored.seq + 1 }))];
      }),
    );
    try {
      const inbox = await cli('oscar', ['inbox', '--json']);
      expect(inbox.code).toBe(0);
      const entry = jsonLines(inbox.stdout).find((line) => line['id'] === id('nina'));
      // The hello is activity, not a message: one unread (the text), one rejected (the forgery).
      expect(entry).toMatchObject({ name: 'nina', unread: 1, rejected: 1 });
    } finally {
      hostile.behave({});
    }
  }, 60_000);

  it('send: a substituted key at first contact through id#fingerprint is refused and nothing is sent', async () => {
    hostile.behave(substituteKey(id('dave')));
    let result: CliResult | undefined;
    try {
      const events = await requestsDuring(async () => {
        result = await cli('alice', [
          'send',
          `${id('dave')}#${world.fingerprints['dave'] ?? ''}`,
          'hello dave',
        ]);
      });
      expect(events).not.toContain('send');
    } finally {
      hostile.behave({});
    }
    expect(result?.code).toBe(1);
    expect(result?.stderr).toMatch(/fingerprint is not the one you gave: refusing/);
  }, 30_000);

  it('send: a substituted key for a pinned peer is refused and nothing is sent', async () => {
    hostile.behave(substituteKey(id('bob')));
    let result: CliResult | undefined;
    try {
      const events = await requestsDuring(async () => {
        result = await cli('alice', ['send', id('bob'), 'this must not leave']);
      });
      expect(events).not.toContain('send');
    } finally {
      hostile.behave({});
    }
    expect(result?.code).toBe(1);
    expect(result?.stderr).toMatch(/key of .* changed\. Nothing was sent/);
  }, 30_000);

  it('login: KDF parameters below the floor are refused, no proof is sent and no profile is written', async () => {
    hostile.behave({
      reply(event, _payload, response) {
        if (event !== 'prelogin') return response;
        const ack = response as { ok: true; kdf: object };
        return { ...ack, kdf: { ...ack.kdf, iterations: 1000 } };
      },
    });
    let result: CliResult | undefined;
    try {
      const events = await requestsDuring(async () => {
        result = await cli('bob-new-device', ['login', 'bob']);
      });
      expect(events).toEqual(['prelogin']);
    } finally {
      hostile.behave({});
    }
    expect(result?.code).toBe(1);
    expect(result?.stderr).toMatch(/1000 PBKDF2 iterations, below the floor/);
    await expect(stat(join(home('bob-new-device'), 'profile.json'))).rejects.toThrow(/ENOENT/);
  }, 30_000);

  it('login: another user’s wrapped private key is refused (it does not unwrap) and no profile is written', async () => {
    const alice = JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
      publicKey: string;
      wrappedPrivateKey: unknown;
    };
    hostile.behave({
      reply(event, _payload, response) {
        if (event !== 'login') return response;
        return { ok: true, publicKey: alice.publicKey, wrappedPrivateKey: alice.wrappedPrivateKey };
      },
    });
    let result: CliResult | undefined;
    try {
      result = await cli('bob-other-device', ['login', 'bob']);
    } finally {
      hostile.behave({});
    }
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /relay accepted the login, but the private key it sent does not decrypt/,
    );
    expect(result.stderr).toMatch(/this relay is lying or its data is damaged/);
    await expect(stat(join(home('bob-other-device'), 'profile.json'))).rejects.toThrow(/ENOENT/);
  }, 30_000);

  it('verify --trust accepts only the key it showed: another key served at that moment is refused', async () => {
    const other = await generateKeyPair();
    const serve = (key: KeyPair): Behaviour => ({
      answer(event, payload) {
        if (event !== 'key' || (payload as { identifier?: unknown }).identifier !== id('bob'))
          return undefined;
        return { ok: true, publicKey: key.publicKey.encoded };
      },
    });
    const peerRecord = async () =>
      (
        JSON.parse(await readFile(join(home('alice'), 'profile.json'), 'utf8')) as {
          peers: Record<string, { publicKey?: string; changedKey?: string }>;
        }
      ).peers[id('bob')];
    try {
      hostile.behave(serve(mallory));
      const shown = jsonLines((await cli('alice', ['verify', id('bob'), '--json'])).stdout)[0];
      expect(shown).toMatchObject({
        state: 'changed',
        fingerprint: mallory.publicKey.fingerprint,
        pinnedFingerprint: world.fingerprints['bob'],
      });
      hostile.behave(serve(other));
      const swapped = await cli('alice', ['verify', id('bob'), '--trust']);
      expect(swapped.code).toBe(1);
      expect(swapped.stderr).toMatch(/have not compared yet; nothing was trusted/);
      const kept = await peerRecord();
      expect(kept?.changedKey).toBe(mallory.publicKey.encoded);
      expect([other, mallory].map((k) => k.publicKey.encoded)).not.toContain(kept?.publicKey);
      // A later lookup (here by send) records yet another key: it was never shown, so --trust
      // refuses it whether the relay serves it again or refuses to answer.
      expect((await cli('alice', ['send', id('bob'), 'not to a swapped key'])).code).toBe(1);
      expect((await peerRecord())?.changedKey).toBe(other.publicKey.encoded);
      const again = await cli('alice', ['verify', id('bob'), '--trust']);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/have not compared yet/);
      hostile.behave({
        answer: (event) =>
          event === 'key'
            ? { ok: false, error: { code: 'UNKNOWN_IDENTIFIER', message: 'no such user' } }
            : undefined,
      });
      const blind = await cli('alice', ['verify', id('bob'), '--trust']);
      expect(blind.code).toBe(1);
      expect([other, mallory].map((k) => k.publicKey.encoded)).not.toContain(
        (await peerRecord())?.publicKey,
      );
      // The relay serves the pinned key again: the change is withdrawn, nothing was accepted.
      hostile.behave({});
      const back = jsonLines((await cli('alice', ['verify', id('bob'), '--json'])).stdout)[0];
      expect(back?.['fingerprint']).toBe(world.fingerprints['bob']);
      expect(back?.['state']).not.toBe('changed');
      expect((await peerRecord())?.changedKey).toBeUndefined();
    } finally {
      hostile.behave({});
    }
  }, 60_000);

  it('a refusal whose text carries terminal escapes or extra lines reaches stderr as one inert line', async () => {
    hostile.behave({
      answer: (event) =>
        event === 'send'
          ? {
              ok: false,
              error: {
                code: 'INTERNAL',
                message: '\u001b[2J\u001b]0;pwned\u0007gone\nmetachat: Sent.',
              },
            }
          : undefined,
    });
    let result: CliResult | undefined;
    try {
      result = await cli('alice', ['send', id('bob'), 'refused']);
    } finally {
      hostile.behave({});
    }
    expect(result.code).toBe(1);
    expect(result.stderr.includes('\u001b')).toBe(false);
    expect(result.stderr.includes('\u0007')).toBe(false);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('gone metachat: Sent.');
  }, 30_000);
});
