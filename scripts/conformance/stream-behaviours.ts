import type { Packet } from '../../src/core/index.js';
import { authenticate, newUser, textPacket, type Behaviour, type Fixture } from './fixtures.js';
import { sent, wholeStream } from './send-behaviours.js';
import { check, expectCode, expectOk, Violation } from './wire.js';

const RECORD_KEYS = new Set(['seq', 'serverTime', 'packet', 'delivered']);

/** Checks one page record's shape and its `delivered` rule from the reader's point of view. */
function checkRecord(record: Record<string, unknown>, reader: string): void {
  const keys = Object.keys(record);
  check(
    keys.every((k) => RECORD_KEYS.has(k)) && 'seq' in record && 'serverTime' in record,
    'a page record is not {seq, serverTime, packet, delivered?}',
  );
  const packet = record['packet'] as Packet;
  const outgoing = packet.from === reader && packet.to !== reader;
  if (outgoing)
    check(
      !('delivered' in record) || typeof record['delivered'] === 'boolean',
      'delivered is not a boolean',
    );
  else check(!('delivered' in record), 'delivered is present on a received packet or note to self');
}

async function refusesRequests(
  f: Fixture,
  event: string,
  cases: Record<string, unknown>,
  code: string,
): Promise<void> {
  const wrong: string[] = [];
  for (const [name, payload] of Object.entries(cases)) {
    const answer = await f.aliceWire.request(event, payload);
    const got = answer.ok ? 'accepted' : answer.code;
    if (got !== code) wrong.push(`${name}: ${got}`);
  }
  if (wrong.length > 0) throw new Violation(`expected ${code}; ${wrong.join('; ')}`);
}

/** Streams, pages, receipts, presence and the request rate (sections 10.1, 10.2, 10.3). */
export const STREAM_BEHAVIOURS: readonly Behaviour[] = [
  {
    id: 'sync-stream',
    section: '10.1',
    says: 'numbers each stream 1, 2, 3, … without gaps, oldest first; a note to self takes one place and has no delivered',
    run: async (f) => {
      const note = textPacket(f.alice, f.alice, 'note to self');
      await sent(f.aliceWire, note);
      await sent(f.aliceWire, textPacket(f.alice, f.bob, 'to Bob'));
      await sent(f.bobWire, textPacket(f.bob, f.alice, 'to Alice'));
      for (const [wire, user] of [
        [f.aliceWire, f.alice],
        [f.bobWire, f.bob],
      ] as const) {
        const stream = await wholeStream(wire);
        stream.forEach((record, i) => {
          check(
            record['seq'] === i + 1,
            `${user.username}'s stream has seq ${String(record['seq'])} at place ${i + 1}`,
          );
          checkRecord(record, user.identifier);
        });
      }
      const notes = (await wholeStream(f.aliceWire)).filter(
        (r) => (r['packet'] as Packet).id === note.id,
      );
      check(notes.length === 1, `a note to self took ${notes.length} places`);
    },
  },
  {
    id: 'sync-paging',
    section: '10.1',
    says: 'pages with limit and more; refuses limit 0, 501, 1.5 or after −1 with MALFORMED_INPUT (never clamps)',
    run: async (f) => {
      const page = expectOk(await f.aliceWire.request('sync', { after: 0, limit: 1 }), 'sync');
      const packets = page['packets'] as unknown[];
      check(
        packets.length === 1 && page['more'] === true,
        'limit 1 did not give one packet and more',
      );
      await refusesRequests(
        f,
        'sync',
        {
          'limit 0': { after: 0, limit: 0 },
          'limit 501': { after: 0, limit: 501 },
          'limit 1.5': { after: 0, limit: 1.5 },
          'after -1': { after: -1 },
          'no after': {},
          'unknown field': { after: 0, peer: f.bob.identifier },
        },
        'MALFORMED_INPUT',
      );
    },
  },
  {
    id: 'sync-one-page-at-a-time',
    section: '10.1',
    says: 'answers concurrent page reads of one connection with a page or RATE_LIMITED, nothing else',
    run: async (f) => {
      const answers = await Promise.all(
        Array.from({ length: 10 }, () => f.aliceWire.request('sync', { after: 0, limit: 500 })),
      );
      for (const answer of answers)
        if (!answer.ok) expectCode(answer, 'RATE_LIMITED', 'a concurrent sync');
    },
  },
  {
    id: 'history-paging',
    section: '10.1',
    says: 'pages one conversation backwards with before, oldest first in a page; refuses limit 501 with MALFORMED_INPUT',
    run: async (f) => {
      const withBob = (p: Packet) =>
        (p.from === f.alice.identifier && p.to === f.bob.identifier) ||
        (p.from === f.bob.identifier && p.to === f.alice.identifier);
      const all = (await wholeStream(f.aliceWire)).filter((r) => withBob(r['packet'] as Packet));
      check(all.length >= 2, 'fewer than two packets with Bob to page through');
      const last = expectOk(
        await f.aliceWire.request('history', { peer: f.bob.identifier, limit: 1 }),
        'history',
      );
      const newest = last['packets'] as Record<string, unknown>[];
      check(
        newest.length === 1 && newest[0]?.['seq'] === all.at(-1)?.['seq'] && last['more'] === true,
        'limit 1 is not the newest packet with more',
      );
      const before = newest[0]?.['seq'] as number;
      const older = expectOk(
        await f.aliceWire.request('history', { peer: f.bob.identifier, before, limit: 500 }),
        'history',
      );
      const seqs = (older['packets'] as Record<string, unknown>[]).map((r) => r['seq']);
      check(
        JSON.stringify(seqs) === JSON.stringify(all.slice(0, -1).map((r) => r['seq'])),
        'the page before is not every older packet, oldest first',
      );
      check(older['more'] === false, 'more is true at the start of the conversation');
      await refusesRequests(
        f,
        'history',
        {
          'limit 501': { peer: f.bob.identifier, limit: 501 },
          'limit 0': { peer: f.bob.identifier, limit: 0 },
        },
        'MALFORMED_INPUT',
      );
    },
  },
  {
    id: 'receipt-delivered',
    section: '10.1, 10.2',
    says: "on a receipt tells the sender with a delivered push {id, to, seq: sender's} and marks the packet delivered: true",
    run: async (f) => {
      await sent(f.bobWire, textPacket(f.bob, f.alice, 'two-way, so receipts are told'));
      const packet = textPacket(f.alice, f.bob, 'will be delivered');
      const from = f.aliceWire.pushes.length;
      const ack = await sent(f.aliceWire, packet);
      const bobStream = await wholeStream(f.bobWire);
      const upTo = bobStream.at(-1)?.['seq'] as number;
      expectOk(await f.bobWire.request('receipt', { upTo }), 'receipt');
      const notice = await f.aliceWire.push(
        'delivered',
        (p) => (p as { id?: string }).id === packet.id,
        5000,
        from,
      );
      check(
        JSON.stringify(notice) ===
          JSON.stringify({ id: packet.id, to: f.bob.identifier, seq: ack.seq }),
        'the delivered push is not {id, to, seq}',
      );
      const record = (await wholeStream(f.aliceWire)).find(
        (r) => (r['packet'] as Packet).id === packet.id,
      );
      check(record?.['delivered'] === true, 'the sender still reads delivered: false');
      expectOk(await f.bobWire.request('receipt', { upTo: 1 }), 'a receipt below the cursor');
      const after = (await wholeStream(f.aliceWire)).find(
        (r) => (r['packet'] as Packet).id === packet.id,
      );
      check(after?.['delivered'] === true, 'the delivery cursor moved backwards');
    },
  },
  {
    id: 'receipt-shape',
    section: '10.1',
    says: 'refuses receipt upTo 0, −1 or 1.5 with MALFORMED_INPUT',
    run: (f) =>
      refusesRequests(
        f,
        'receipt',
        { 'upTo 0': { upTo: 0 }, 'upTo -1': { upTo: -1 }, 'upTo 1.5': { upTo: 1.5 }, '{}': {} },
        'MALFORMED_INPUT',
      ),
  },
  {
    id: 'delivered-two-way-only',
    section: '10.1, 10.2',
    says: 'shows delivered and sends delivered pushes only in a two-way conversation, never to a one-way sender',
    run: async (f) => {
      const frank = await newUser('frank');
      const wire = await f.connect();
      expectOk(await wire.request('register', frank.registration), 'register Frank');
      await authenticate(wire, frank);
      const packet = textPacket(f.alice, frank, 'Frank never wrote to Alice');
      const mark = f.aliceWire.pushes.length;
      await sent(f.aliceWire, packet);
      const find = async () =>
        (await wholeStream(f.aliceWire)).find((r) => (r['packet'] as Packet).id === packet.id);
      check(!('delivered' in ((await find()) ?? {})), 'delivered is shown to a one-way sender');
      const upTo = (await wholeStream(wire)).at(-1)?.['seq'] as number;
      expectOk(await wire.request('receipt', { upTo }), 'receipt');
      const reply = textPacket(frank, f.alice, 'now it is two-way');
      await sent(wire, reply);
      const isReply = (p: unknown) => (p as { packet?: Packet }).packet?.id === reply.id;
      await f.aliceWire.push('packet', isReply, 5000, mark);
      const early = f.aliceWire.pushes.slice(mark).some((p) => p.event === 'delivered');
      check(!early, 'a one-way sender was sent a delivered push');
      check(
        (await find())?.['delivered'] === true,
        'once two-way, the covered packet is not delivered: true',
      );
    },
  },
  {
    id: 'presence',
    section: '10.2',
    says: 'pushes presence {identifier, online, lastSeen} to two-way peers when a user comes online and goes offline',
    run: async (f) => {
      const erin = await newUser('erin');
      const first = await f.connect();
      expectOk(await first.request('register', erin.registration), 'register Erin');
      await authenticate(first, erin);
      await sent(first, textPacket(erin, f.alice, 'hi Alice'));
      await sent(f.aliceWire, textPacket(f.alice, erin, 'hi Erin'));
      const mark = f.aliceWire.pushes.length;
      first.close();
      const isErin = (online: boolean) => (p: unknown) => {
        const u = p as Record<string, unknown>;
        return u['identifier'] === erin.identifier && u['online'] === online;
      };
      const offline = (await f.aliceWire.push('presence', isErin(false), 5000, mark)) as Record<
        string,
        unknown
      >;
      check(
        Object.keys(offline).sort().join() === 'identifier,lastSeen,online',
        'presence is not {identifier, online, lastSeen}',
      );
      check(Number.isSafeInteger(offline['lastSeen']), 'lastSeen is not an integer');
      // Presence pushed before the offline one (the introduction when the conversation became
      // two-way may arrive late on a clustered relay) is older news: look only after it.
      const afterOffline = f.aliceWire.pushes.findIndex((p) => p.payload === offline) + 1;
      const again = await f.connect();
      await authenticate(again, erin);
      const online = (await f.aliceWire.push(
        'presence',
        isErin(true),
        5000,
        afterOffline,
      )) as Record<string, unknown>;
      check(
        (online['lastSeen'] as number) >= (offline['lastSeen'] as number),
        'lastSeen went backwards',
      );
      const aliceSeen = (p: unknown) =>
        (p as Record<string, unknown>)['identifier'] === f.alice.identifier;
      const told = (await again.push('presence', aliceSeen)) as Record<string, unknown>;
      check(told['online'] === true, 'on authentication Erin was not told that Alice is online');
    },
  },
  {
    id: 'request-rate',
    section: '10.3',
    says: 'answers requests beyond 400 in a burst (200 a second sustained) with RATE_LIMITED',
    run: async (f) => {
      const wire = await f.connect();
      const answers = await Promise.all(
        Array.from({ length: 1200 }, () => wire.request('challenge')),
      );
      const limited = answers.filter((a) => !a.ok && a.code === 'RATE_LIMITED').length;
      const other = answers.filter((a) => !a.ok && a.code !== 'RATE_LIMITED').length;
      check(other === 0, `${other} answers were refusals other than RATE_LIMITED`);
      check(limited > 0, '1,200 requests at once were all served');
      check(
        answers.length - limited >= 400,
        `only ${answers.length - limited} of a burst of 1,200 were served`,
      );
    },
  },
];
