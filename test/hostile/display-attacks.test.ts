import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { StoredPacket } from '../../src/core/index.js';
import { CONTINUATION } from '../../src/cli/terminal/terminal-text.js';
import { importPublicKey, sealPacket } from '../../src/core/index.js';
import { registerLookalike } from '../support/lookalike.js';
import { openSession } from '../../src/cli/relay/session.js';
import type { CliResult } from '../support/cli-process.js';
import type { TestRelay } from '../support/relay-harness.js';
import type { HostileRelay } from './hostile-relay.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';
import { startListening } from './listening-cli.js';
import { flipHex, rewriteStream } from './tampering.js';

let world: HostileCliWorld;
let real: TestRelay;
let hostile: HostileRelay;
const PASSWORD = HOSTILE_CLI_PASSWORD;
const home = (name: string): string => world.home(name);
const cli = (name: string, args: string[]): Promise<CliResult> => world.cli(name, args);
const id = (name: string): string => world.id(name);
const register = async (name: string, extra: string[] = []): Promise<void> => {
  await world.register(name, extra);
};

interface SavedProfile {
  seenUpTo: number;
  recentPackets?: [number, string][];
  peers: Record<string, { readUpTo?: number; publicKey?: string }>;
}

const profileOf = (name: string): Promise<SavedProfile> => world.profile<SavedProfile>(name);

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-display-homes-');
  ({ real, hostile } = world);
  for (const name of ['alice', 'bob', 'erin']) await register(name);
}, 90_000);

afterAll(async () => {
  await world.stop();
});

describe('what a peer can put on my terminal', () => {
  const forged = 'see you\n[2026-11-24 12:00] me: send the door code to the new number';
  const invisible = 'pay\u061c now\u200b, or\u200e never';

  it('history: a text with line feeds cannot print a line that reads like mine, and invisible characters show', async () => {
    expect((await cli('alice', ['send', id('bob'), forged])).code).toBe(0);
    // `send` refuses such text now; another client need not, so Alice's device sends it directly.
    const session = await openSession(home('alice'), real.url, () => Promise.resolve(PASSWORD));
    try {
      const bobKey = importPublicKey(await session.client.key(id('bob')));
      await session.client.send(
        sealPacket({
          sender: { identifier: session.account.identifier, keyPair: session.account.keyPair },
          recipient: { identifier: id('bob'), publicKey: bobKey },
          body: { v: 1, type: 'text', text: invisible },
        }),
      );
    } finally {
      session.client.close();
    }
    const result = await cli('bob', ['history', id('alice')]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines)
      expect(line.startsWith('[') || line.startsWith(CONTINUATION)).toBe(true);
    expect(lines.filter((line) => /^\[[^\]]*\] me: /.test(line))).toEqual([]);
    expect(lines[1]).toBe(
      `${CONTINUATION}[2026-11-24 12:00] me: send the door code to the new number`,
    );
    expect(result.stdout).not.toMatch(/[\u061c\u200b\u200e]/);
    expect(lines[2]).toContain('pay\ufffd now\ufffd, or\ufffd never');
  }, 60_000);

  it('listen and history --json: one line per message, the data intact, nothing a terminal acts on', async () => {
    const json = await cli('bob', ['history', id('alice'), '--json']);
    expect(json.stdout).not.toMatch(/[\u061c\u200b\u200e]/);
    expect(jsonLines(json.stdout).map((line) => line['text'])).toEqual([forged, invisible]);
    const listening = startListening(home('bob'), hostile.url, PASSWORD);
    try {
      await listening.waitForStdout(/never/, 15_000);
    } finally {
      expect(await listening.stop()).toBe(0);
    }
    expect(listening.stdout()).not.toMatch(/[\u061c\u200b\u200e]/);
    const texts = jsonLines(listening.stdout()).map((line) => line['text']);
    expect(texts).toEqual([forged, invisible]);
  }, 60_000);
});

describe('a hostile session that claims positions far ahead, then an honest relay', () => {
  it('listen, history and inbox show every honest message afterwards; no mark or marker moved to the lie', async () => {
    expect((await cli('alice', ['send', id('erin'), 'first, honest'])).code).toBe(0);
    // Every page to Erin ends with a forged packet at 2^53-1, and history pages with a genuine
    // packet relocated to a huge position.
    hostile.behave(
      rewriteStream(id('erin'), (packets, route) => {
        const last = packets.at(-1);
        if (!last) return packets;
        if (route === 'sync') {
          const other = { ...last.packet, id: flipHex(last.packet.id) };
          return [...packets, { ...last, seq: Number.MAX_SAFE_INTEGER, packet: other }];
        }
        if (route === 'history') {
          const moved: StoredPacket = { ...last, seq: 1_000_000_000 };
          return [...packets.slice(0, -1), moved];
        }
        return packets;
      }),
    );
    try {
      const listening = startListening(home('erin'), hostile.url, PASSWORD);
      try {
        await listening.waitForStdout(/STREAM_JUMP/, 15_000);
        await listening.waitForStdout(/first, honest/);
        const [conn] = hostile.connectionsOf(id('erin'));
        const page = (await conn?.ask('sync', { after: 0 })) as { packets: StoredPacket[] };
        const genuine = page.packets.at(-1);
        conn?.push('packet', { ...genuine, seq: Number.MAX_SAFE_INTEGER - 1 });
        conn?.push('packet', {
          ...genuine,
          seq: 5_000_000,
          packet: { ...genuine?.packet, id: flipHex(genuine?.packet.id ?? '') },
        });
        await listening.waitForStdout(
          /(STREAM_JUMP|PACKET_REPLAYED)[^]*(STREAM_JUMP|PACKET_REPLAYED)[^]*(STREAM_JUMP|PACKET_REPLAYED)/,
        );
      } finally {
        expect(await listening.stop()).toBe(0);
      }
      const history = await cli('erin', ['history', id('alice')]);
      expect(history.stderr).toMatch(/far beyond what this device knows|replayed packet/);
    } finally {
      hostile.behave({});
    }
    const afterwards = await profileOf('erin');
    expect(afterwards.seenUpTo).toBeLessThan(10);
    expect(Math.max(0, ...(afterwards.recentPackets ?? []).map(([seq]) => seq))).toBeLessThan(10);
    expect(afterwards.peers[id('alice')]?.readUpTo ?? 0).toBeLessThan(10);
    // The relay is honest again: every new message is shown by listen, history and inbox.
    expect((await cli('alice', ['send', id('erin'), 'second, honest'])).code).toBe(0);
    const listening = startListening(home('erin'), hostile.url, PASSWORD);
    try {
      await listening.waitForStdout(/second, honest/, 15_000);
    } finally {
      expect(await listening.stop()).toBe(0);
    }
    expect(listening.stdout()).not.toMatch(/PACKET_REPLAYED|STREAM_JUMP/);
    const history = await cli('erin', ['history', id('alice'), '--json']);
    expect(jsonLines(history.stdout).map((line) => line['text'])).toEqual([
      'first, honest',
      'second, honest',
    ]);
    const inbox = await cli('erin', ['inbox', '--json']);
    expect(inbox.stderr).not.toMatch(/!!/);
    expect(jsonLines(inbox.stdout)).toContainEqual(expect.objectContaining({ id: id('alice') }));
  }, 120_000);
});

describe('a look-alike of a contact (an identifier sharing its first 40 digits)', () => {
  it('inbox and history never show it like the contact, flag it, and --json keeps the full ids', async () => {
    await register('frank', ['--no-share-username']);
    expect((await cli('alice', ['send', id('frank'), 'hi frank'])).code).toBe(0);
    expect((await cli('frank', ['send', id('alice'), 'the door code is 4711'])).code).toBe(0);
    const mallory = await registerLookalike(real.url, id('frank'), 40);
    try {
      const aliceKey = importPublicKey(await mallory.client.key(id('alice')));
      await mallory.client.send(
        sealPacket({
          sender: { identifier: mallory.identifier, keyPair: mallory.keyPair },
          recipient: { identifier: id('alice'), publicKey: aliceKey },
          body: {
            v: 1,
            type: 'text',
            text: 'frank again: new laptop, please resend the door code here',
          },
        }),
      );
    } finally {
      mallory.client.close();
    }
    const json = await cli('alice', ['inbox', '--json']);
    expect(json.code).toBe(0);
    const entries = jsonLines(json.stdout);
    const frank = entries.find((entry) => entry['id'] === id('frank'));
    const fake = entries.find((entry) => entry['id'] === mallory.identifier);
    expect(frank).toBeDefined();
    expect(fake).toBeDefined();
    const [frankName, fakeName] = [String(frank?.['name']), String(fake?.['name'])];
    expect(fakeName).not.toBe(frankName);
    expect(frankName.startsWith(fakeName.replace('…', ''))).toBe(false);
    expect(fakeName.startsWith(frankName.replace('…', ''))).toBe(false);
    expect(fake?.['lookalike']).toBe(frankName);
    expect(frank?.['lookalike']).toBeUndefined();
    const plain = await cli('alice', ['inbox']);
    const lines = plain.stdout.trimEnd().split('\n');
    const fakeLine = lines.find((line) => line.startsWith(fakeName));
    const frankLine = lines.find((line) => line.startsWith(frankName));
    expect(fakeLine).toMatch(
      new RegExp(`!! looks like ${frankName}: a different peer \\(${mallory.identifier}\\)`),
    );
    expect(frankLine).not.toMatch(/looks like/);
    const history = await cli('alice', ['history', mallory.identifier]);
    expect(history.stderr).toMatch(/looks like .*, but is a different peer/);
    expect(history.stdout).toMatch(new RegExp(`^\\[[^\\]]*\\] ${fakeName}: frank again`, 'm'));
    expect(history.stdout).not.toContain(`] ${frankName}:`);
    const real_ = await cli('alice', ['history', id('frank')]);
    expect(real_.stderr).not.toMatch(/looks like/);
    expect(real_.stdout).toContain(`] ${frankName}: the door code is 4711`);
  }, 120_000);
});
