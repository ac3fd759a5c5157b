import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { appendFile, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { Account } from '../../src/cli/relay/account.js';
import type { Packet } from '../../src/core/index.js';
import { commitBytes } from '../../src/daemon/segment-files.js';
import { SegmentedStore } from '../../src/daemon/segmented-store.js';
import { StoreCorruptError } from '../../src/daemon/store-corrupt-error.js';
import { alice, bob, newParty } from '../support/parties.js';
import { sealText, tempDir } from '../support/relay-harness.js';
import { asPacketRecord, packetRecordsOf } from '../support/records.js';

const A = alice as unknown as Account;
const B = bob as unknown as Account;
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function freshStore(segmentSize = 4): Promise<{ dir: string; store: SegmentedStore }> {
  const dir = await tempDir();
  dirs.push(dir);
  return { dir, store: await SegmentedStore.open(dir, segmentSize) };
}

function packets(count: number): Packet[] {
  return Array.from({ length: count }, (_, i) =>
    i % 3 === 2 ? sealText(B, A, `b${i}`) : sealText(A, B, `a${i}`),
  );
}

async function streamIds(store: SegmentedStore, identifier: string): Promise<string[]> {
  return (await store.since(identifier, 0, 500)).records.map((r) => r.packet.id);
}

describe('SegmentedStore', () => {
  it('rolls over into bounded segments with sidecars, and reloads the same state', async () => {
    const { dir, store } = await freshStore(4);
    const sent = packets(10);
    for (const packet of sent) await store.append(packet, Date.now());
    const names = (await readdir(join(dir, 'segments'))).sort();
    expect(names).toEqual([
      '00000000.idx.json',
      '00000000.json',
      '00000001.idx.json',
      '00000001.json',
      '00000002.journal',
    ]);
    const before = await streamIds(store, A.identifier);
    await store.close();
    const reopened = await SegmentedStore.open(dir, 4);
    expect(await reopened.size()).toBe(10);
    expect(await streamIds(reopened, A.identifier)).toEqual(before);
    expect(before).toEqual(sent.map((p) => p.id));
    const more = sealText(A, B, 'after restart');
    const { record } = await reopened.append(more, Date.now());
    expect(record.pos).toBe(10);
    expect(asPacketRecord(record).seqFrom).toBe(11);
    await reopened.close();
  });

  it('numbers both participants’ streams and keeps a note to self to one place', async () => {
    const { store } = await freshStore();
    const first = await store.append(sealText(A, B, 'x'), 1);
    const note = await store.append(sealText(A, A, 'note'), 2);
    const reply = await store.append(sealText(B, A, 'y'), 3);
    expect([asPacketRecord(first.record).seqFrom, asPacketRecord(first.record).seqTo]).toEqual([
      1, 1,
    ]);
    expect([asPacketRecord(note.record).seqFrom, asPacketRecord(note.record).seqTo]).toEqual([
      2, 2,
    ]);
    expect([asPacketRecord(reply.record).seqFrom, asPacketRecord(reply.record).seqTo]).toEqual([
      2, 3,
    ]);
    expect(await store.peersOf(A.identifier)).toEqual([B.identifier]);
    await store.close();
  });

  it('stores a repeated id once, in one batch or across batches', async () => {
    const { dir, store } = await freshStore();
    const packet = sealText(A, B, 'once');
    // The first append starts a commit at once; the two copies queued behind it share the next one.
    const [, one, two] = await Promise.all([
      store.append(sealText(A, B, 'first in line'), 1),
      store.append(packet, 1),
      store.append(packet, 1),
    ]);
    expect(one.duplicate).toBe(false);
    expect(two.duplicate).toBe(true);
    expect(two.record).toBe(one.record);
    const journal = await readFile(join(dir, 'segments', '00000000.journal'), 'utf8');
    expect(journal.match(/"commit":\{"records":(\d+)/g)).toEqual([
      '"commit":{"records":1',
      '"commit":{"records":1',
    ]);
    const three = await store.append(packet, 1);
    expect(three).toEqual({ record: one.record, duplicate: true });
    expect(await store.size()).toBe(2);
    await store.close();
  });

  it('group-commits concurrent appends and still numbers them without gaps', async () => {
    const { store } = await freshStore(16);
    const results = await Promise.all(packets(60).map((packet) => store.append(packet, 1)));
    const seqsOfA = results.map(({ record }) =>
      record.packet.from === A.identifier
        ? asPacketRecord(record).seqFrom
        : asPacketRecord(record).seqTo,
    );
    expect([...seqsOfA].sort((x, y) => x - y)).toEqual(results.map((_, i) => i + 1));
    expect(new Set(results.map((r) => r.record.pos)).size).toBe(60);
    await store.close();
  });

  it('pages a conversation backwards by the reader’s own sequence numbers', async () => {
    const { store } = await freshStore();
    for (const packet of packets(9)) await store.append(packet, 1);
    const last = await store.conversation(B.identifier, A.identifier, undefined, 4);
    expect(packetRecordsOf(last.records).map((r) => r.seqTo)).toEqual([6, 7, 8, 9].map((n) => n));
    expect(last.more).toBe(true);
    const older = await store.conversation(B.identifier, A.identifier, 6, 10);
    expect(older.records).toHaveLength(5);
    expect(older.more).toBe(false);
    await store.close();
  });

  it('rebuilds a sidecar lost in a crash from its segment', async () => {
    const { dir, store } = await freshStore(4);
    for (const packet of packets(9)) await store.append(packet, 1);
    await store.close();
    await unlink(join(dir, 'segments', '00000001.idx.json'));
    const reopened = await SegmentedStore.open(dir, 4);
    expect(await reopened.size()).toBe(9);
    expect(await readdir(join(dir, 'segments'))).toContain('00000001.idx.json');
    await reopened.close();
  });

  it('removes temp files a crash left behind', async () => {
    const { dir, store } = await freshStore();
    await store.append(sealText(A, B, 'x'), 1);
    await store.close();
    await writeFile(join(dir, 'segments', '.tmp-00000000.json.abc'), '{"half":');
    const reopened = await SegmentedStore.open(dir, 4);
    expect((await readdir(join(dir, 'segments'))).some((n) => n.startsWith('.tmp-'))).toBe(false);
    expect(await reopened.size()).toBe(1);
    await reopened.close();
  });

  it('cuts off a torn journal tail left by a crash, keeping every complete record', async () => {
    const { dir, store } = await freshStore(8);
    for (const packet of packets(3)) await store.append(packet, 1);
    await store.close();
    const journal = join(dir, 'segments', '00000000.journal');
    const intact = await readFile(journal, 'utf8');
    await appendFile(journal, '{"pos":3,"serverTime":1,"seqFr');
    const reopened = await SegmentedStore.open(dir, 8);
    expect(await reopened.size()).toBe(3);
    expect(await readFile(journal, 'utf8')).toBe(intact);
    const { record } = await reopened.append(sealText(A, B, 'next'), 1);
    expect(record.pos).toBe(3);
    await reopened.close();
    expect(await (await SegmentedStore.open(dir, 8)).size()).toBe(4);
  });

  it('cuts off a last commit torn by a power cut (a page of zeros inside it)', async () => {
    const { dir, store } = await freshStore(64);
    for (const packet of packets(2)) await store.append(packet, 1);
    await Promise.all(packets(12).map((packet) => store.append(packet, 1)));
    await store.close();
    const journal = join(dir, 'segments', '00000000.journal');
    const bytes = await readFile(journal);
    const trailers: number[] = [];
    for (let at = bytes.indexOf('{"commit":'); at !== -1; at = bytes.indexOf('{"commit":', at + 1))
      trailers.push(at);
    const last = trailers.at(-1) ?? 0;
    const lastCommitStart = bytes.indexOf(10, trailers.at(-2)) + 1;
    const lastRecords = (
      JSON.parse(bytes.subarray(last, bytes.indexOf(10, last)).toString()) as {
        commit: { records: number };
      }
    ).commit.records;
    expect(lastRecords).toBeGreaterThan(3);
    bytes.fill(0, lastCommitStart + 100, Math.min(lastCommitStart + 4196, bytes.length - 200));
    await writeFile(journal, bytes);
    const reopened = await SegmentedStore.open(dir, 64);
    expect(await reopened.size()).toBe(14 - lastRecords);
    expect((await readFile(journal)).length).toBe(lastCommitStart);
    await reopened.close();
  });

  it('never acknowledges a packet that a short write (file-size limit) kept off the disk', async () => {
    const dir = await tempDir();
    dirs.push(dir);
    const script = join(
      dirname(fileURLToPath(import.meta.url)),
      '..',
      'fixtures',
      'append-until-full.ts',
    );
    const child = spawnSync(
      'bash',
      ['-c', `ulimit -f 24; exec "${process.execPath}" --import tsx "${script}" "${dir}"`],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const acked = child.stdout.split('\n').filter((line) => line === 'ack').length;
    expect(child.stdout).toContain('refused');
    expect(acked).toBeGreaterThan(0);
    const reopened = await SegmentedStore.open(dir, 512);
    expect(await reopened.size()).toBeGreaterThanOrEqual(acked);
    await reopened.close();
  }, 90_000);

  it('refuses to start on a journal damaged in the middle, naming the file', async () => {
    const { dir, store } = await freshStore(8);
    for (const packet of packets(3)) await store.append(packet, 1);
    await store.close();
    const journal = join(dir, 'segments', '00000000.journal');
    const lines = (await readFile(journal, 'utf8')).split('\n');
    lines[1] = '{"damaged": true}';
    await writeFile(journal, lines.join('\n'));
    const error = await SegmentedStore.open(dir, 8).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect((error as StoreCorruptError).message).toContain('00000000.journal');
  });

  it.each([
    [
      'a sealed segment with a bad sidecar entry',
      '00000000.idx.json',
      '{"v":1,"segment":0,"entries":[1,2,3,4]}',
    ],
  ])('refuses to start on %s, with a typed error naming the file', async (_why, file, contents) => {
    const { dir, store } = await freshStore(4);
    for (const packet of packets(6)) await store.append(packet, 1);
    await store.close();
    await writeFile(join(dir, 'segments', file), contents);
    const error = await SegmentedStore.open(dir, 4).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect((error as StoreCorruptError).message).toContain(file);
  });

  it('seals a full journal whose segment file a crash kept from being written', async () => {
    const { dir, store } = await freshStore(4);
    for (const packet of packets(3)) await store.append(packet, 1);
    await store.close();
    // The fourth record, as the store would have journaled it just before a crash: A's and B's
    // streams each hold three packets (a0, a1, b2), so this one is the fourth of both.
    const fourth = { pos: 3, serverTime: 1, seqFrom: 4, seqTo: 4, packet: sealText(A, B, 'a3') };
    await appendFile(
      join(dir, 'segments', '00000000.journal'),
      commitBytes([JSON.stringify(fourth)]),
    );
    const reopened = await SegmentedStore.open(dir, 4);
    expect(await reopened.size()).toBe(4);
    expect((await readdir(join(dir, 'segments'))).sort()).toEqual([
      '00000000.idx.json',
      '00000000.json',
    ]);
    expect((await reopened.since(B.identifier, 3, 10)).records[0]?.packet.id).toBe(
      fourth.packet.id,
    );
    await reopened.close();
  });

  it('detects a damaged sealed segment when it is read, with a typed error', async () => {
    const { dir, store } = await freshStore(4);
    for (const packet of packets(6)) await store.append(packet, 1);
    await store.close();
    await writeFile(join(dir, 'segments', '00000000.json'), '{"v":1,"segment":0,"records":[]}');
    const reopened = await SegmentedStore.open(dir, 4);
    await expect(reopened.since(A.identifier, 0, 10)).rejects.toBeInstanceOf(StoreCorruptError);
    await reopened.close();
  });

  describe('reading a few records of a sealed segment alone', () => {
    /** 192 records in three segments of 64; one in 16 is alice's, the rest carol's to dave. */
    async function mixedStore() {
      const { dir, store } = await freshStore(64);
      const C = (await newParty('carol-store')) as unknown as Account;
      const D = (await newParty('dave-store')) as unknown as Account;
      for (let i = 0; i < 192; i++) {
        await store.append(i % 16 === 0 ? sealText(A, B, `a${i}`) : sealText(C, D, `c${i}`), 1);
      }
      const aliceIds = await streamIds(store, A.identifier);
      await store.close();
      return { dir, C, aliceIds };
    }

    /** Breaks record 1 (carol's) of a segment without moving any byte: its "ct" key becomes "cX". */
    async function damageSecondRecord(dir: string, k: number): Promise<void> {
      const path = join(dir, 'segments', `${String(k).padStart(8, '0')}.json`);
      const text = await readFile(path, 'utf8');
      const second = text.indexOf('"ct":"', text.indexOf('"ct":"') + 1);
      await writeFile(path, `${text.slice(0, second)}"cX":"${text.slice(second + 6)}`);
    }

    async function editSidecar(
      dir: string,
      k: number,
      edit: (data: { offsets?: number[] }) => void,
    ) {
      const path = join(dir, 'segments', `${String(k).padStart(8, '0')}.idx.json`);
      const data = JSON.parse(await readFile(path, 'utf8')) as { offsets?: number[] };
      edit(data);
      await writeFile(path, JSON.stringify(data));
    }

    it('serves them by the offsets in the sidecar, never parsing the rest of the file', async () => {
      const { dir, C, aliceIds } = await mixedStore();
      expect(aliceIds).toHaveLength(12);
      for (const k of [0, 1]) await damageSecondRecord(dir, k);
      const reopened = await SegmentedStore.open(dir, 64);
      // Alice's page touches 4 records per segment: read alone, the damage is never parsed.
      expect(await streamIds(reopened, A.identifier)).toEqual(aliceIds);
      // Carol's page wants most of each segment: read whole, the damage is found.
      await expect(reopened.since(C.identifier, 0, 500)).rejects.toBeInstanceOf(StoreCorruptError);
      await reopened.close();
    });

    it('reads a segment whole when its sidecar predates offsets', async () => {
      const { dir, aliceIds } = await mixedStore();
      await editSidecar(dir, 1, (data) => {
        delete data.offsets;
      });
      const reopened = await SegmentedStore.open(dir, 64);
      expect(await streamIds(reopened, A.identifier)).toEqual(aliceIds);
      await damageSecondRecord(dir, 0);
      await damageSecondRecord(dir, 1);
      const again = await SegmentedStore.open(dir, 64);
      await expect(again.since(A.identifier, 0, 500)).rejects.toBeInstanceOf(StoreCorruptError);
      await again.close();
      await reopened.close();
    });

    it('refuses offsets that are malformed, or that point at the wrong bytes', async () => {
      const { dir } = await mixedStore();
      await editSidecar(dir, 0, (data) => {
        data.offsets = (data.offsets ?? []).slice(1);
      });
      await expect(SegmentedStore.open(dir, 64)).rejects.toBeInstanceOf(StoreCorruptError);
      await editSidecar(dir, 0, (data) => {
        data.offsets = [0, ...(data.offsets ?? [])];
      });
      await editSidecar(dir, 1, (data) => {
        data.offsets = (data.offsets ?? []).map((offset, i) => (i === 0 ? offset + 1 : offset));
      });
      const shifted = await SegmentedStore.open(dir, 64);
      await expect(shifted.since(A.identifier, 0, 500)).rejects.toBeInstanceOf(StoreCorruptError);
      await shifted.close();
    });
  });

  it('refuses to start when a segment in the middle is missing', async () => {
    const { dir, store } = await freshStore(2);
    for (const packet of packets(6)) await store.append(packet, 1);
    await store.close();
    await unlink(join(dir, 'segments', '00000001.json'));
    await expect(SegmentedStore.open(dir, 2)).rejects.toBeInstanceOf(StoreCorruptError);
  });

  it('keeps db.json bounded by users, not by messages', async () => {
    const { dir, store } = await freshStore(8);
    for (const packet of packets(40)) await store.append(packet, 1);
    await store.setPresence({ identifier: A.identifier, online: false, lastSeen: 5 });
    await store.acknowledge(B.identifier, 3);
    await store.close();
    const db = await readFile(join(dir, 'db.json'), 'utf8');
    expect(db.length).toBeLessThan(400);
    expect(JSON.parse(db)).toMatchObject({ cursors: { [B.identifier]: 3 } });
  });
});
