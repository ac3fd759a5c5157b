import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCli } from '../support/cli-process.js';
import type { Behaviour } from './hostile-relay.js';
import { HOSTILE_CLI_PASSWORD, HostileCliWorld, jsonLines } from './cli-world.js';

// A relay that lies in the acknowledgement of a send about the packet's place in my stream: the
// real CLI, as child processes, keeps its own message in the local history only at a place that can
// be true, never over another message, and a page showing another packet there wins it back.

let world: HostileCliWorld;
// Nothing listens there: `history` reads the local history alone.
const UNREACHABLE = 'http://127.0.0.1:9';

/** What the local history holds of the conversation with `peer`: [seq, text] pairs. */
async function offline(name: string, peer: string): Promise<[number, string][]> {
  const result = await runCli(
    [
      'history',
      world.id(peer),
      '--json',
      '--home',
      world.home(name),
      '--server',
      UNREACHABLE,
      '--password-stdin',
    ],
    { input: `${HOSTILE_CLI_PASSWORD}\n`, env: {} },
  );
  expect(result.code).toBe(0);
  return jsonLines(result.stdout)
    .filter((line) => typeof line['text'] === 'string')
    .map((line) => [Number(line['seq']), String(line['text'])]);
}

/** The relay acknowledges every send at `seq(real)` instead of its real place. */
function ackAt(seq: (real: number) => number): Behaviour {
  return {
    reply(event, _payload, response) {
      if (event !== 'send' || (response as { ok?: unknown }).ok !== true) return response;
      const real = (response as { seq: number }).seq;
      return { ...(response as object), seq: seq(real) };
    },
  };
}

async function sendWith(behaviour: Behaviour, text: string) {
  world.hostile.behave(behaviour);
  try {
    return await world.cli('alice', ['send', world.id('bob'), text, '--json']);
  } finally {
    world.hostile.behave({});
  }
}

beforeAll(async () => {
  world = await HostileCliWorld.start('metachat-ack-seq-');
  await world.register('alice');
  await world.register('bob');
  expect((await world.cli('bob', ['send', world.id('alice'), 'first from bob'])).code).toBe(0);
  expect((await world.cli('alice', ['history', world.id('bob')])).code).toBe(0);
}, 180_000);

afterAll(async () => {
  await world.stop();
});

describe('a relay that lies about the place of a sent message', () => {
  it('a place held by another message is not overwritten, and it says so', async () => {
    const [[bobs]] = (await offline('alice', 'bob')) as [[number, string]];
    const sent = await sendWith(
      ackAt(() => bobs),
      'claims the place of bob',
    );
    expect(sent.code).toBe(0);
    expect(sent.stderr).toMatch(
      new RegExp(
        `at position ${bobs} of your stream, which holds another message in the local history`,
      ),
    );
    expect(await offline('alice', 'bob')).toEqual([[bobs, 'first from bob']]);
  }, 90_000);

  it('a place far beyond the stream (2^53 - 1) is not kept', async () => {
    const sent = await sendWith(
      ackAt(() => Number.MAX_SAFE_INTEGER),
      'claimed at the end of time',
    );
    expect(sent.code).toBe(0);
    expect(sent.stderr).toMatch(/far beyond what this device knows of your stream/);
    const held = await offline('alice', 'bob');
    expect(held.map(([seq]) => seq)).not.toContain(Number.MAX_SAFE_INTEGER);
    expect(held.map(([, text]) => text)).not.toContain('claimed at the end of time');
  }, 90_000);

  it('a free place ahead of the real one is taken back by the packet the stream shows there', async () => {
    let real = 0;
    const sent = await sendWith(
      ackAt((seq) => {
        real = seq;
        return seq + 1;
      }),
      'placed one ahead',
    );
    expect(sent.code).toBe(0);
    expect(sent.stderr).not.toMatch(/not kept in the local history/);
    // Bob's next message really lands at the place the relay gave alice's.
    expect((await world.cli('bob', ['send', world.id('alice'), 'lands there'])).code).toBe(0);
    expect((await world.cli('alice', ['history', world.id('bob')])).code).toBe(0);
    const held = await offline('alice', 'bob');
    expect(held.slice(-2)).toEqual([
      [real, 'placed one ahead'],
      [real + 1, 'lands there'],
    ]);
  }, 90_000);
});
