// The local history in `npm run bench -- client`: opening a conversation of 10,000 messages from
// the encrypted file, and a search over 100,000, each beside a baseline measured in the same run.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import {
  generateKeyPair,
  identifierFromUsername,
  openPacket,
  sealPacket,
  type Packet,
} from '../src/core/index.js';
import { HistoryStore, type HistoryMessage } from '../src/cli/history/history-store.js';
import { measurements, printRatio, printTable } from './report.js';

const TOTAL = 100_000;
const CONVERSATION = 10_000;
const PEERS = 10;
/** What opening a conversation shows first: the chat screen's first page. */
const PAGE = 100;
const TASK_MS = 2_000;

const WORDS = (
  'the a to and of in is it you that for on we this be at with are have not do was lunch ' +
  'meeting tomorrow today call later thanks ok yes no maybe send file photo link coffee train ' +
  'home work project review deadline friday weekend party birthday dinner movie game music'
).split(' ');

/** A deterministic text of 4 to 16 words, the frequent words more often (Zipf-like). */
function text(seed: number): string {
  let x = seed * 2654435761;
  const next = () => {
    x = (x ^ (x >>> 13)) * 1274126177;
    x ^= x >>> 16;
    return (x >>> 0) / 2 ** 32;
  };
  const count = 4 + Math.floor(next() * 13);
  const words: string[] = [];
  for (let i = 0; i < count; i++)
    words.push(WORDS[Math.floor(next() ** 2 * WORDS.length)] ?? 'the');
  return words.join(' ');
}

const SEARCH_COMMON = `search "birthday party" in ${TOTAL.toLocaleString('en')}, newest 50`;
const SCAN_COMMON = 'baseline: scan the texts in memory (same words)';
const SEARCH_RARE = `search "zanzibar" (1 in 1,000), newest 50`;
const SCAN_RARE = 'baseline: scan the texts in memory (zanzibar)';

/** Newest first, the first 50 texts holding every pattern: a search without an index, all in memory. */
function scan(texts: readonly string[], patterns: readonly RegExp[]): number[] {
  const hits: number[] = [];
  for (let i = texts.length - 1; i >= 0 && hits.length < 50; i--) {
    const t = texts[i] ?? '';
    if (patterns.every((pattern) => pattern.test(t))) hits.push(i);
  }
  return hits;
}

/** Runs the local-history measurements and prints them with their baselines. */
export async function historyBench(): Promise<void> {
  console.log(
    `\nlocal history: ${TOTAL.toLocaleString('en')} messages in ${PEERS} conversations (one of ${CONVERSATION.toLocaleString('en')})`,
  );
  const home = await mkdtemp(join(tmpdir(), 'metachat-history-bench-'));
  const key = randomBytes(32);
  const me = identifierFromUsername('alice');
  const peers = Array.from({ length: PEERS }, (_, i) => identifierFromUsername(`peer${i}`));
  const big = peers[0] ?? me;
  try {
    const messages: HistoryMessage[] = [];
    for (let seq = 1; seq <= TOTAL; seq++) {
      // Every (TOTAL / CONVERSATION)-th message is with the big conversation's peer.
      const peer =
        seq % (TOTAL / CONVERSATION) === 0 ? big : (peers[1 + (seq % (PEERS - 1))] ?? big);
      const outgoing = seq % 3 === 0;
      messages.push({
        seq,
        id: randomBytes(16).toString('hex'),
        from: outgoing ? me : peer,
        to: outgoing ? peer : me,
        time: 1_700_000_000_000 + seq * 1000,
        // A rare word in one message of 1,000: a search that must look through everything.
        text: seq % 1000 === 7 ? `${text(seq)} zanzibar` : text(seq),
        direction: outgoing ? 'outgoing' : 'incoming',
      });
    }
    const filling = HistoryStore.open(home, key);
    const fillStart = performance.now();
    for (let i = 0; i < messages.length; i += 500) filling.add(messages.slice(i, i + 500));
    const fillMs = performance.now() - fillStart;
    filling.close();

    // Baseline for opening: the same first page read as `history` reads it from the relay,
    // each packet verified and decrypted (the network left out).
    const aliceKeys = await generateKeyPair();
    const peerKeys = await generateKeyPair();
    const sealed: Packet[] = messages
      .filter((m) => m.from === big)
      .slice(-PAGE)
      .map((m) =>
        sealPacket({
          sender: { identifier: big, keyPair: peerKeys },
          recipient: { identifier: me, publicKey: aliceKeys.publicKey },
          body: { v: 1, type: 'text', text: m.text },
        }),
      );
    // Baseline for search: every text already in memory, scanned without an index.
    const texts = messages.map((m) => m.text);

    const store = HistoryStore.open(home, key);
    const bench = new Bench({ time: TASK_MS, warmupTime: 300 });
    bench
      .add(`open + first ${PAGE} of ${CONVERSATION.toLocaleString('en')} (cache)`, () => {
        const opened = HistoryStore.open(home, key);
        opened.page(big, PAGE);
        opened.close();
      })
      .add(`baseline: verify + decrypt ${PAGE} packets`, () => {
        for (const packet of sealed)
          openPacket({
            packet,
            reader: { identifier: me, privateKey: aliceKeys.privateKey },
            sender: { identifier: big, publicKey: peerKeys.publicKey },
          });
      })
      .add(`all ${CONVERSATION.toLocaleString('en')} of the conversation (cache)`, () => {
        store.page(big, CONVERSATION);
      })
      .add(SEARCH_COMMON, () => {
        store.search('birthday party', { limit: 50 });
      })
      .add(SCAN_COMMON, () => {
        scan(texts, [/\bbirthday\b/, /\bparty\b/]);
      })
      .add(SEARCH_RARE, () => {
        store.search('zanzibar', { limit: 50 });
      })
      .add(SCAN_RARE, () => {
        scan(texts, [/\bzanzibar\b/]);
      });
    await bench.run();
    store.close();
    const rows = measurements(bench);
    printTable('local history (p50)', rows.values());
    console.log(
      `${'filling the history, 500 a transaction'.padEnd(56)}${(fillMs / 1000).toFixed(1).padStart(7)} s (${((fillMs * 1000) / TOTAL).toFixed(0)} µs a message)`,
    );
    const median = (name: string) => rows.get(name)?.medianMs ?? Number.NaN;
    const open = median(`open + first ${PAGE} of ${CONVERSATION.toLocaleString('en')} (cache)`);
    const verify = median(`baseline: verify + decrypt ${PAGE} packets`);
    printRatio(
      'open from the cache / verify + decrypt the page',
      open / verify,
      '< 1x',
      open < verify,
    );
    for (const [search, baseline] of [
      [SEARCH_COMMON, SCAN_COMMON],
      [SEARCH_RARE, SCAN_RARE],
    ] as const)
      console.log(
        `${`${search} / its scan`.padEnd(56)}${(median(search) / median(baseline)).toFixed(2).padStart(7)}x`,
      );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
