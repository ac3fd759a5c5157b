import type { SoakDevice } from './soak-device.js';
import type { SoakLedger } from './soak-ledger.js';

/** What the delivery check found; every count but `storedUnacknowledged` must be zero. */
export interface DeliveryReport {
  /** Device deliveries expected: each acknowledged packet, once per device of its sender and recipient. */
  readonly expected: number;
  /** An acknowledged packet missing from a device's stream. */
  readonly lost: number;
  /** A packet at more than one seq of a device's stream. */
  readonly duplicated: number;
  /** Two packets of one sending device, or of one conversation, in different orders. */
  readonly outOfOrder: number;
  /** Gaps, seq clashes between devices, contents or seqs unlike what was sent and acknowledged. */
  readonly mismatched: number;
  /** Sent, never acknowledged (the run ended first), yet stored: allowed, counted for the record. */
  readonly storedUnacknowledged: number;
  readonly examples: readonly string[];
}

/**
 * Checks, after the final sync, that every acknowledged packet reached every device of its sender
 * and its recipient exactly once, in the order its sending device got the acknowledgements, with
 * each conversation in the same order in both participants' streams, and that the devices of one
 * user agree on every seq.
 */
export function checkDelivery(ledger: SoakLedger, devices: readonly SoakDevice[]): DeliveryReport {
  const examples: string[] = [];
  const note = (text: string) => {
    if (examples.length < 10) examples.push(text);
  };
  let expected = 0;
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let mismatched = 0;
  const byUser = new Map<string, SoakDevice[]>();
  for (const device of devices) {
    const list = byUser.get(device.account.identifier) ?? [];
    list.push(device);
    byUser.set(device.account.identifier, list);
  }
  const acked = [...ledger.sent.values()].filter((record) => record.ack !== undefined);

  for (const record of acked) {
    const users = new Set([record.from, record.to]);
    for (const user of users) {
      for (const device of byUser.get(user) ?? []) {
        expected++;
        const seqs = device.seqsOf.get(record.id);
        if (seqs === undefined) {
          lost++;
          note(`lost: ${record.id} on device ${device.name}`);
        } else if (seqs.size > 1) {
          duplicated++;
          note(`duplicated: ${record.id} at seqs ${[...seqs].join(', ')} on ${device.name}`);
        } else if (user === record.from && !seqs.has(record.ack?.seq ?? -1)) {
          mismatched++;
          note(`acknowledged at seq ${record.ack?.seq} but stored elsewhere: ${record.id}`);
        }
      }
    }
  }

  for (const [user, list] of byUser) {
    const reference = list[0];
    if (!reference) continue;
    for (const device of list) {
      mismatched += device.mismatches.length;
      for (const text of device.mismatches) note(`${device.name}: ${text}`);
      const top = Math.max(0, ...device.stream.keys());
      if (device.stream.size !== top) {
        mismatched++;
        note(`${device.name}: stream has gaps (${device.stream.size} of ${top} seqs)`);
      }
      for (const [seq, id] of device.stream) {
        const known = ledger.sent.get(id);
        if (!known) {
          mismatched++;
          note(`${device.name}: seq ${seq} holds ${id}, which nobody sent`);
        } else if (known.from !== user && known.to !== user) {
          mismatched++;
          note(`${device.name}: seq ${seq} holds a packet of other users`);
        }
        if (device !== reference && reference.stream.get(seq) !== id) {
          mismatched++;
          note(`${device.name} and ${reference.name} disagree at seq ${seq}`);
        }
      }
    }
  }

  // Per sending device: its acknowledged packets appear in every relevant stream in ack order.
  const seqIn = (device: SoakDevice, id: string) => [...(device.seqsOf.get(id) ?? [])][0];
  for (const sender of devices) {
    const byPeer = new Map<string, string[]>();
    for (const id of sender.acked) {
      const to = ledger.sent.get(id)?.to ?? '';
      const list = byPeer.get(to) ?? [];
      list.push(id);
      byPeer.set(to, list);
    }
    for (const [peer, ids] of byPeer) {
      const readers = [
        ...(byUser.get(sender.account.identifier) ?? []),
        ...(byUser.get(peer) ?? []),
      ];
      for (const reader of new Set(readers)) {
        let previous = 0;
        for (const id of ids) {
          const seq = seqIn(reader, id);
          if (seq === undefined) continue;
          if (seq <= previous) {
            outOfOrder++;
            note(`out of order: ${id} from ${sender.name} at seq ${seq} on ${reader.name}`);
          }
          previous = seq;
        }
      }
    }
  }

  // Per conversation: both participants' streams hold its packets in the same order.
  const conversations = new Map<string, string[]>();
  for (const record of acked) {
    if (record.from === record.to) continue;
    const key = [record.from, record.to].sort().join(':');
    const list = conversations.get(key) ?? [];
    list.push(record.id);
    conversations.set(key, list);
  }
  for (const [key, ids] of conversations) {
    const [a, b] = key.split(':').map((user) => byUser.get(user)?.[0]);
    if (!a || !b) continue;
    const order = (device: SoakDevice) =>
      ids
        .filter((id) => seqIn(device, id) !== undefined)
        .sort((x, y) => (seqIn(device, x) ?? 0) - (seqIn(device, y) ?? 0));
    const inA = order(a);
    const inB = order(b);
    if (inA.join() !== inB.join()) {
      outOfOrder++;
      note(`conversation ${a.name} / ${b.name} is ordered differently in the two streams`);
    }
  }

  let storedUnacknowledged = 0;
  for (const record of ledger.sent.values()) {
    if (record.ack !== undefined) continue;
    const reader = byUser.get(record.from)?.[0];
    if (reader?.seqsOf.has(record.id) === true) storedUnacknowledged++;
  }
  return { expected, lost, duplicated, outOfOrder, mismatched, storedUnacknowledged, examples };
}
