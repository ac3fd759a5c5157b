import { constants, privateDecrypt, publicEncrypt, randomBytes, sign } from 'node:crypto';
import { Bench } from 'tinybench';
import {
  addMemberEntry,
  createGroupEntry,
  generateKeyPair,
  groupLogFetchFrom,
  identifierFromUsername,
  openGroupMessage,
  removeMemberEntry,
  sealGroupMessage,
  updateGroupLog,
  type Body,
  type GroupEntry,
  type GroupLog,
  type KeyPair,
  type PublicKey,
} from '../src/core/index.js';
import { measurements, printTable } from './report.js';

/** Group sizes measured: the smallest group, a typical one, and the bound (docs/protocol.md 16.6). */
const SIZES = [2, 10, 100] as const;
/** Entries of the log a new device verifies in the log figure. */
const LOG_ENTRIES = 1_000;
/** Entries a log page holds (16.6): a new device verifies a long log page by page. */
const PAGE = 256;

interface Member {
  readonly identifier: string;
  readonly keyPair: KeyPair;
}

/** A verified log of one create for `members` (the first one the creator). */
function groupOf(members: readonly Member[], keyOf: (id: string) => PublicKey): GroupLog {
  const [creator, ...others] = members;
  if (creator === undefined) throw new Error('no members');
  const entry = createGroupEntry(
    creator,
    others.map((m) => ({ identifier: m.identifier, publicKey: m.keyPair.publicKey })),
    'bench',
  );
  return updateGroupLog(null, [entry], keyOf, entry.group);
}

/**
 * A log of LOG_ENTRIES entries: a create of two, then an admin adding and removing a third member
 * in turn (each add wraps the metadata key for the newcomer and is signed; a remove is signed).
 */
function longLog(admin: Member, other: Member, third: Member, keyOf: (id: string) => PublicKey) {
  let log = groupOf([admin, other], keyOf);
  const entries: GroupEntry[] = log.entries.map((e) => e.entry);
  for (let i = 1; i < LOG_ENTRIES; i++) {
    const entry =
      i % 2 === 1
        ? addMemberEntry(
            log,
            admin,
            { identifier: third.identifier, publicKey: third.keyPair.publicKey },
            keyOf,
          )
        : removeMemberEntry(log, admin, third.identifier, keyOf);
    log = updateGroupLog(log, [entry], keyOf, log.group);
    entries.push(entry);
  }
  return { group: log.group, entries };
}

/**
 * `npm run bench -- core`, groups: seal and open of one group message for 2, 10 and 100 members
 * beside the RSA-2048 floor measured in the same run (seal: one signature plus one OAEP wrap per
 * member; open: one signature check and one OAEP unwrap), and a new device verifying a
 * 1,000-entry log page by page.
 */
export async function runGroupBench(): Promise<void> {
  const count = Math.max(...SIZES);
  const keyPairs = await Promise.all(Array.from({ length: count }, () => generateKeyPair()));
  const members: Member[] = keyPairs.map((keyPair, i) => ({
    identifier: identifierFromUsername(`member${String(i).padStart(3, '0')}`),
    keyPair,
  }));
  members.sort((a, b) => (a.identifier < b.identifier ? -1 : 1));
  const byId = new Map(members.map((m) => [m.identifier, m.keyPair.publicKey]));
  const keyOf = (id: string): PublicKey => {
    const key = byId.get(id);
    if (key === undefined) throw new Error(`no key for ${id}`);
    return key;
  };
  const sender = members[0];
  const reader = members[1];
  if (sender === undefined || reader === undefined) throw new Error('no members');
  const body: Body = { v: 1, type: 'text', text: 'See you at eight, bring the maps.' };
  const signed = randomBytes(600);
  const wrapped = publicEncrypt(
    {
      key: reader.keyPair.publicKey.keyObject,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: 'sha256',
    },
    randomBytes(32),
  );

  const bench = new Bench({ time: 1500, warmupTime: 300 });
  bench
    .add('floor: RSA-2048 PSS sign (1 private op)', () => {
      sign('sha256', signed, {
        key: sender.keyPair.privateKey.keyObject,
        padding: constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 32,
      });
    })
    .add('RSA-2048 OAEP encrypt (1 public op)', () => {
      publicEncrypt(
        {
          key: reader.keyPair.publicKey.keyObject,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        signed.subarray(0, 32),
      );
    })
    .add('floor: RSA-2048 OAEP decrypt (1 private op)', () => {
      privateDecrypt(
        {
          key: reader.keyPair.privateKey.keyObject,
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        wrapped,
      );
    });
  for (const size of SIZES) {
    const log = groupOf(members.slice(0, size), keyOf);
    const seal = () => sealGroupMessage({ sender, log, keyOf, body });
    const packet = seal();
    const as = { identifier: reader.identifier, privateKey: reader.keyPair.privateKey };
    bench
      .add(`group seal (${size} members)`, () => {
        seal();
      })
      .add(`group open (${size} members)`, () => {
        openGroupMessage({ packet, reader: as, log, keyOf });
      });
  }
  await bench.run();
  const m = measurements(bench);
  printTable('Core: group messages (median of each)', m.values());
  const median = (name: string) => m.get(name)?.medianMs ?? Number.NaN;
  const signFloor = median('floor: RSA-2048 PSS sign (1 private op)');
  const decryptFloor = median('floor: RSA-2048 OAEP decrypt (1 private op)');
  console.log('');
  const encrypt = median('RSA-2048 OAEP encrypt (1 public op)');
  for (const size of SIZES) {
    const seal = median(`group seal (${size} members)`);
    const open = median(`group open (${size} members)`);
    // The floor of a seal for n members: one signature and n OAEP wraps, measured above.
    const sealFloor = signFloor + size * encrypt;
    console.log(
      `${String(size).padStart(3)} members: seal ${(seal / signFloor).toFixed(2)}x the sign floor, ${(seal / sealFloor).toFixed(2)}x sign + ${size} wraps; open ${(open / decryptFloor).toFixed(2)}x the decrypt floor`,
    );
  }

  const [admin, other, third] = members;
  if (admin === undefined || other === undefined || third === undefined)
    throw new Error('no members');
  const built = longLog(admin, other, third, keyOf);
  const verify = new Bench({ time: 3000, warmupTime: 0, iterations: 5 });
  verify.add(`verify a ${LOG_ENTRIES.toLocaleString('en')}-entry log (pages of ${PAGE})`, () => {
    // As a client fetches: each page asked from the head verified so far (groupLogFetchFrom).
    let log: GroupLog | null = null;
    for (let pages = 0; (log?.entries.length ?? 0) < built.entries.length; pages++) {
      if (pages > built.entries.length) throw new Error('the log verification does not advance');
      const from = groupLogFetchFrom(log);
      log = updateGroupLog(log, built.entries.slice(from, from + PAGE), keyOf, built.group);
    }
  });
  await verify.run();
  const v = measurements(verify);
  printTable('Core: group log verification on a new device (median)', v.values());
  const whole = [...v.values()][0]?.medianMs ?? Number.NaN;
  const perEntry = whole / LOG_ENTRIES;
  console.log(
    `\nlog verification: ${perEntry.toFixed(3)} ms per entry (${(perEntry / signFloor).toFixed(2)}x the sign floor); at the 10,000-entry bound about ${((perEntry * 10_000) / 1000).toFixed(1)} s`,
  );
}
