import { describe, expect, it } from '@jest/globals';
import { checkDelivery, type DeviceView } from '../../bench/soak-check.js';
import { SoakLedger } from '../../bench/soak-ledger.js';
import type { Packet } from '../../src/core/index.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

function packet(id: string, from: string, to: string): Packet {
  return { v: 1, id, from, to, time: 1, iv: '', ct: '', keyTo: '', keyFrom: '', sig: `sig-${id}` };
}

/** A device holding `entries` (seq, id) of its user's stream. */
function device(
  name: string,
  identifier: string,
  entries: [number, string][],
  acked: string[] = [],
): DeviceView {
  const seqsOf = new Map<string, Set<number>>();
  for (const [seq, id] of entries) seqsOf.set(id, (seqsOf.get(id) ?? new Set()).add(seq));
  return {
    name,
    account: { identifier },
    stream: new Map(entries),
    seqsOf,
    mismatches: [],
    acked,
  };
}

/** A sends p1 then p2 to B; both acknowledged at A's seqs 1 and 2. */
function scenario() {
  const ledger = new SoakLedger();
  for (const [id, seq] of [
    ['p1', 1],
    ['p2', 2],
  ] as const) {
    ledger.attempt(packet(id, A, B), '0.0');
    ledger.acked(id, seq, false);
  }
  const streams = new Map([
    [
      A,
      new Map([
        [1, 'p1'],
        [2, 'p2'],
      ]),
    ],
    [
      B,
      new Map([
        [1, 'p1'],
        [2, 'p2'],
      ]),
    ],
  ]);
  const devices = [
    device(
      '0.0',
      A,
      [
        [1, 'p1'],
        [2, 'p2'],
      ],
      ['p1', 'p2'],
    ),
    device('1.0', B, [
      [1, 'p1'],
      [2, 'p2'],
    ]),
    device('1.1', B, [
      [1, 'p1'],
      [2, 'p2'],
    ]),
  ];
  return { ledger, streams, devices };
}

describe('the soak delivery check', () => {
  it('passes a run where every device holds every packet once, in order', () => {
    const { ledger, streams, devices } = scenario();
    expect(checkDelivery(ledger, devices, streams)).toMatchObject({
      expected: 6,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      mismatched: 0,
    });
  });

  it('counts a packet one device of the recipient never got as lost', () => {
    const { ledger, streams, devices } = scenario();
    devices[2] = device('1.1', B, [[1, 'p1']]);
    const report = checkDelivery(ledger, devices, streams);
    expect(report.lost).toBe(1);
    expect(report.mismatched).toBe(1);
  });

  it('counts a packet at two seqs as duplicated', () => {
    const { ledger, streams, devices } = scenario();
    streams.set(
      B,
      new Map([
        [1, 'p1'],
        [2, 'p2'],
        [3, 'p1'],
      ]),
    );
    devices[1] = device('1.0', B, [
      [1, 'p1'],
      [2, 'p2'],
      [3, 'p1'],
    ]);
    const report = checkDelivery(ledger, devices, streams);
    expect(report.duplicated).toBe(2);
  });

  it('counts packets stored against their acknowledgement order as out of order', () => {
    const { ledger, streams, devices } = scenario();
    const swapped = new Map([
      [1, 'p2'],
      [2, 'p1'],
    ]);
    streams.set(B, swapped);
    devices[1] = device('1.0', B, [...swapped]);
    devices[2] = device('1.1', B, [...swapped]);
    const report = checkDelivery(ledger, devices, streams);
    expect(report.outOfOrder).toBe(2);
    expect(report.lost + report.duplicated + report.mismatched).toBe(0);
  });

  it('counts an acknowledgement at another seq, a gap and an unknown packet as mismatched', () => {
    const { ledger, streams, devices } = scenario();
    streams.set(
      A,
      new Map([
        [2, 'p1'],
        [3, 'p2'],
        [4, 'ghost'],
      ]),
    );
    const report = checkDelivery(ledger, devices, streams);
    expect(report.mismatched).toBeGreaterThanOrEqual(4);
  });

  it('takes the first device as the reference where the relay was not read back', () => {
    const { ledger, devices } = scenario();
    expect(checkDelivery(ledger, devices, new Map()).mismatched).toBe(0);
    devices[2] = device('1.1', B, [
      [1, 'p2'],
      [2, 'p1'],
    ]);
    expect(checkDelivery(ledger, devices, new Map()).mismatched).toBe(2);
  });
});
