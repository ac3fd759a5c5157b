import { describe, expect, it } from '@jest/globals';
import {
  checkHistoryPage,
  hidesPacket,
  MAX_JUMP,
  REMEMBERED_PACKETS,
  StreamGuard,
  type StreamEntry,
  type StreamSource,
  type StreamVerdict,
} from '../../src/cli/stream/stream-guard.js';
import { moveReadMarker } from '../../src/cli/stream/read-marker.js';

const ME = 'a'.repeat(64);
const PEER = 'b'.repeat(64);
const OTHER = 'c'.repeat(64);

function entry(
  seq: number,
  id = seq.toString(16).padStart(32, '0'),
  from = PEER,
  to = ME,
): Extract<StreamEntry, { packet: unknown }> {
  return { seq, packet: { id, from, to, sig: `sig-${id}` } };
}

/** Observes a packet and, when it is new, accepts it as a verified one (what the callers do). */
function see(guard: StreamGuard, seen: StreamEntry, source: StreamSource): StreamVerdict {
  const verdict = guard.observe(seen, source);
  if (verdict.kind === 'new' && source !== 'own') guard.accept(seen, source);
  return verdict;
}

describe('StreamGuard', () => {
  it('counts a group message as a place in the stream, and a skipped one is no gap', () => {
    const group = 'd'.repeat(64);
    const message = (seq: number) => ({
      seq,
      groupMessage: { id: seq.toString(16).padStart(32, '0'), from: PEER, group, sig: `g-${seq}` },
    });
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(1), 'page');
    expect(see(guard, message(2), 'page')).toEqual({ kind: 'new' });
    const skipped = message(3);
    expect(guard.observe(skipped, 'page')).toEqual({ kind: 'new' });
    guard.refuse(skipped);
    see(guard, entry(4), 'page');
    expect(guard.settle()).toBeNull();
    expect(guard.seenUpTo).toBe(4);
    expect(see(guard, message(2), 'push')).toEqual({ kind: 'duplicate' });
    expect(checkHistoryPage({ me: ME, peer: PEER }, [message(5)])[0]?.code).toBe(
      'WRONG_CONVERSATION',
    );
  });

  it('accepts a gapless stream in order and moves its mark', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    for (let seq = 1; seq <= 3; seq++)
      expect(see(guard, entry(seq), 'page')).toEqual({ kind: 'new' });
    expect(guard.settle()).toBeNull();
    expect(guard.seenUpTo).toBe(3);
    expect(guard.holes().count).toBe(0);
  });

  it('skips the same packet at the same place silently (a push and a page overlap)', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    see(guard, entry(1), 'push');
    expect(see(guard, entry(1), 'page')).toEqual({ kind: 'duplicate' });
  });

  it('reports STREAM_GAP once a sync ended with a position still missing, then moves past it', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    see(guard, entry(1), 'page');
    see(guard, entry(3), 'page');
    expect(guard.holes()).toEqual({ count: 1, first: [2] });
    expect(guard.seenUpTo).toBe(1);
    expect(guard.settle()).toMatchObject({ code: 'STREAM_GAP', missing: [2] });
    expect(guard.seenUpTo).toBe(3);
    expect(guard.settle()).toBeNull();
  });

  it('keeps the work bounded when a page claims a large hole', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(MAX_JUMP), 'page');
    const holes = guard.holes();
    expect(holes.count).toBe(MAX_JUMP - 1);
    expect(holes.first).toHaveLength(20);
    expect(guard.settle()?.message).toMatch(/and \d+ more/);
  });

  it('calls a page hole beyond MAX_JUMP, or a push past the end of the pages, a lie (STREAM_JUMP) and stores neither', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(1), 'page');
    expect(see(guard, entry(Number.MAX_SAFE_INTEGER), 'page')).toMatchObject({
      kind: 'jump',
      issue: { code: 'STREAM_JUMP', seq: Number.MAX_SAFE_INTEGER },
    });
    expect(see(guard, entry(MAX_JUMP + 2), 'page')).toMatchObject({ kind: 'jump' });
    expect(guard.settle()).toBeNull();
    expect(see(guard, entry(3), 'push')).toMatchObject({ kind: 'jump' });
    expect(see(guard, entry(2), 'push')).toEqual({ kind: 'new' });
    expect(guard.seenUpTo).toBe(2);
    expect(guard.highest).toBe(2);
    expect(guard.rememberedPackets().map(([seq]) => seq)).toEqual([1, 2]);
  });

  it('does not call a push past an unfinished sync a lie: the next catch-up fetches it', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(1), 'page');
    expect(see(guard, entry(7), 'push')).toEqual({ kind: 'duplicate' });
  });

  it('counts only accepted packets: a refused one moves nothing, and the genuine one at its place is new', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    const forged = { seq: 1, packet: { ...entry(1).packet, sig: 'forged' } };
    expect(guard.observe(forged, 'page')).toEqual({ kind: 'new' });
    guard.refuse(forged);
    expect(guard.seenUpTo).toBe(0);
    expect(guard.rememberedPackets()).toEqual([]);
    expect(see(guard, entry(1), 'page')).toEqual({ kind: 'new' });
    expect(guard.seenUpTo).toBe(1);
  });

  it('does not report a refused position as withheld, and settles past it', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(1), 'page');
    guard.observe(entry(2), 'page');
    guard.refuse(entry(2));
    see(guard, entry(3), 'page');
    expect(guard.seenUpTo).toBe(1);
    expect(guard.holes().count).toBe(0);
    expect(guard.settle()).toBeNull();
    expect(guard.seenUpTo).toBe(3);
  });

  it('reports STREAM_REORDERED for a lower position after a higher one from the same source', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    guard.beginSync();
    see(guard, entry(2), 'page');
    const late = see(guard, entry(1), 'page');
    expect(late).toMatchObject({ kind: 'new', issue: { code: 'STREAM_REORDERED', seq: 1 } });
    expect(guard.settle()).toBeNull();
  });

  it('does not call a re-sync that fills a hole a reorder, nor an own send acknowledged late', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    see(guard, entry(1), 'push');
    // Push 3 arrives beyond the next position: the follower catches up first.
    guard.beginSync();
    expect(see(guard, entry(2), 'page')).toEqual({ kind: 'new' });
    expect(see(guard, entry(3), 'page')).toEqual({ kind: 'new' });
    expect(guard.settle()).toBeNull();
    expect(see(guard, entry(3), 'push')).toEqual({ kind: 'duplicate' });
    expect(see(guard, entry(4, undefined, ME, PEER), 'push')).toEqual({ kind: 'new' });
    expect(see(guard, entry(5), 'push')).toEqual({ kind: 'new' });
    expect(see(guard, entry(6, undefined, ME, PEER), 'own')).toEqual({ kind: 'new' });
    expect(guard.seenUpTo).toBe(6);
  });

  it('reports PACKET_REPLAYED for a known packet id at a new position', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    see(guard, entry(1, 'f'.repeat(32)), 'push');
    expect(see(guard, entry(2, 'f'.repeat(32)), 'push')).toMatchObject({
      kind: 'replayed',
      issue: { code: 'PACKET_REPLAYED', seq: 2 },
    });
  });

  it('reports PACKET_REPLAYED for two packets at one position, or one packet with two contents', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    see(guard, entry(1), 'push');
    expect(see(guard, entry(1, 'e'.repeat(32)), 'push')).toMatchObject({ kind: 'replayed' });
    const altered = entry(1);
    expect(
      see(guard, { seq: 1, packet: { ...altered.packet, sig: 'other' } }, 'push'),
    ).toMatchObject({ kind: 'replayed', issue: { message: /different contents/ } });
  });

  it('reports PACKET_REPLAYED for a position at or below what the device already read', () => {
    const guard = new StreamGuard({ seenUpTo: 5, remembered: [[3, entry(3).packet.id]] });
    expect(see(guard, entry(3), 'push')).toMatchObject({ kind: 'replayed' });
    expect(see(guard, entry(5), 'page')).toMatchObject({ kind: 'replayed' });
    expect(see(guard, entry(6), 'push')).toEqual({ kind: 'new' });
  });

  it('recognises a remembered packet replayed at a new position in a later session', () => {
    const first = new StreamGuard({ seenUpTo: 0 });
    see(first, entry(1, 'd'.repeat(32)), 'page');
    first.settle();
    const later = new StreamGuard({
      seenUpTo: first.seenUpTo,
      remembered: first.rememberedPackets(),
    });
    expect(see(later, entry(2, 'd'.repeat(32)), 'push')).toMatchObject({
      kind: 'replayed',
      issue: { code: 'PACKET_REPLAYED' },
    });
  });

  it('remembers a bounded number of packets, the newest', () => {
    const guard = new StreamGuard({ seenUpTo: 0 });
    for (let seq = 1; seq <= REMEMBERED_PACKETS + 10; seq++) see(guard, entry(seq), 'page');
    const remembered = guard.rememberedPackets();
    expect(remembered).toHaveLength(REMEMBERED_PACKETS);
    expect(remembered.at(-1)?.[0]).toBe(REMEMBERED_PACKETS + 10);
  });
});

describe('checkHistoryPage', () => {
  const context = { me: ME, peer: PEER };

  it('accepts the packets of the conversation in increasing order, with gaps', () => {
    const page = [entry(2), entry(7, undefined, ME, PEER), entry(9)];
    expect(checkHistoryPage(context, page)).toEqual([undefined, undefined, undefined]);
  });

  it('reports WRONG_CONVERSATION for a packet between other parties, and hides it', () => {
    const [issue] = checkHistoryPage(context, [entry(2, undefined, OTHER, ME)]);
    expect(issue).toMatchObject({ code: 'WRONG_CONVERSATION', seq: 2 });
    expect(issue && hidesPacket(issue)).toBe(true);
  });

  it('reports STREAM_REORDERED for a decreasing position or one not below `before`, and shows it', () => {
    const issues = checkHistoryPage({ ...context, before: 10 }, [entry(5), entry(4), entry(12)]);
    expect(issues.map((issue) => issue?.code)).toEqual([
      undefined,
      'STREAM_REORDERED',
      'STREAM_REORDERED',
    ]);
    expect(issues[1] && hidesPacket(issues[1])).toBe(false);
  });

  it('reports PACKET_REPLAYED for an id twice in a page or at another remembered position', () => {
    const id = '9'.repeat(32);
    expect(checkHistoryPage(context, [entry(3, id), entry(4, id)])[1]).toMatchObject({
      code: 'PACKET_REPLAYED',
    });
    expect(
      checkHistoryPage({ ...context, remembered: [[3, id]] }, [entry(8, id)])[0],
    ).toMatchObject({ code: 'PACKET_REPLAYED' });
  });
});

describe('the read marker of a history page (one guard for conversations and groups)', () => {
  const profile = { seenUpTo: 40, recentPackets: [[55, 'a'.repeat(32)]] as [number, string][] };

  it('moves forward to the last incoming message, never back', () => {
    expect(moveReadMarker(profile, 10, 30, 'this group')).toEqual({ readUpTo: 30 });
    expect(moveReadMarker(profile, 30, 12, 'this group')).toEqual({});
    expect(moveReadMarker(profile, undefined, 0, 'this group')).toEqual({});
  });

  it('refuses a place far beyond what the device knows (its mark, the marker, the packets it remembers)', () => {
    expect(moveReadMarker(profile, 10, 55 + MAX_JUMP, 'this conversation')).toEqual({
      readUpTo: 55 + MAX_JUMP,
    });
    const jumped = moveReadMarker(profile, 10, 56 + MAX_JUMP, 'this conversation');
    expect(jumped.readUpTo).toBeUndefined();
    expect(jumped.issue).toMatchObject({ code: 'STREAM_JUMP', seq: 56 + MAX_JUMP });
    expect(jumped.issue?.message).toMatch(
      /a message of this conversation at position 10056 .*\(55\)/,
    );
    expect(moveReadMarker(profile, 10, Number.MAX_SAFE_INTEGER, 'this group').issue?.code).toBe(
      'STREAM_JUMP',
    );
  });
});
