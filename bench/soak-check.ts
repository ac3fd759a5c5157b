import type { SoakLedger } from './soak-ledger.js';

/** What the check needs of a device: whose it is, what it holds, and what it sent. */
export interface DeviceView {
  readonly name: string;
  readonly account: { readonly identifier: string };
  readonly stream: ReadonlyMap<number, string>;
  readonly seqsOf: ReadonlyMap<string, ReadonlySet<number>>;
  readonly mismatches: readonly string[];
  readonly acked: readonly string[];
}

/** What the delivery check found; every count but `storedUnacknowledged` must be zero. */
export interface DeliveryReport {
  /** Device deliveries checked: each acknowledged packet, once per device of its sender and recipient. */
  readonly expected: number;
  /** An acknowledged packet missing from a device, or from the relay's stream of a participant. */
  readonly lost: number;
  /** A packet at more than one seq of a device's stream or of the relay's stream. */
  readonly duplicated: number;
  /** Two packets of one sending device, or of one conversation, in different orders. */
  readonly outOfOrder: number;
  /** Gaps, unknown packets, devices unlike the relay's stream, acks at the wrong seq, altered content. */
  readonly mismatched: number;
  /** Sent, never acknowledged (the run ended first), yet stored: allowed, counted for the record. */
  readonly storedUnacknowledged: number;
  readonly examples: readonly string[];
}

/**
 * Checks, after the final sync, that every acknowledged packet reached every device of its sender
 * and its recipient exactly once, at the same seq on every device of a user, in the order its
 * sending device got the acknowledgements, with each conversation in the same order in both
 * participants' streams. A user's reference stream is the relay's (`audited`, read from seq 0)
 * where it was read, else its first device's.
 */
export function checkDelivery(
  ledger: SoakLedger,
  devices: readonly DeviceView[],
  audited: ReadonlyMap<string, ReadonlyMap<number, string>>,
): DeliveryReport {
  const examples: string[] = [];
  const count = { lost: 0, duplicated: 0, outOfOrder: 0, mismatched: 0 };
  const fail = (kind: keyof typeof count, text: string) => {
    count[kind]++;
    if (examples.length < 10) examples.push(`${kind}: ${text}`);
  };
  const byUser = new Map<string, DeviceView[]>();
  for (const device of devices) {
    const list = byUser.get(device.account.identifier) ?? [];
    list.push(device);
    byUser.set(device.account.identifier, list);
  }
  const acked = [...ledger.sent.values()].filter((record) => record.ack !== undefined);
  let expected = 0;
  const relayStreams = new Map<string, ReadonlyMap<number, string>>();
  for (const [user, list] of byUser) {
    const reference = audited.get(user) ?? list[0]?.stream;
    if (reference) relayStreams.set(user, reference);
  }

  // Each user's reference stream: gapless, each packet once, only packets that involve the user.
  const relaySeq = new Map<string, Map<string, number>>();
  for (const [user, stream] of relayStreams) {
    const seqOf = new Map<string, number>();
    relaySeq.set(user, seqOf);
    for (let seq = 1; seq <= stream.size; seq++) {
      if (!stream.has(seq)) fail('mismatched', `the relay's stream of ${user} has a gap at ${seq}`);
    }
    for (const [seq, id] of stream) {
      if (seqOf.has(id)) fail('duplicated', `${id} twice in the relay's stream of ${user}`);
      seqOf.set(id, seq);
      const sent = ledger.sent.get(id);
      if (!sent || (sent.from !== user && sent.to !== user)) {
        fail('mismatched', `seq ${seq} of ${user} holds ${id}, not sent to or by ${user}`);
      }
    }
  }

  for (const record of acked) {
    for (const user of new Set([record.from, record.to])) {
      const seq = relaySeq.get(user)?.get(record.id);
      if (seq === undefined) fail('lost', `${record.id} is not in the relay's stream of ${user}`);
      if (user === record.from && seq !== undefined && seq !== record.ack?.seq) {
        fail('mismatched', `${record.id} acknowledged at seq ${record.ack?.seq}, stored at ${seq}`);
      }
      for (const device of byUser.get(user) ?? []) {
        expected++;
        const seqs = device.seqsOf.get(record.id);
        if (seqs === undefined) fail('lost', `${record.id} never reached device ${device.name}`);
        else if (seqs.size > 1)
          fail('duplicated', `${record.id} at ${seqs.size} seqs on ${device.name}`);
      }
    }
  }

  for (const [user, list] of byUser) {
    const reference = relayStreams.get(user) ?? new Map<number, string>();
    for (const device of list) {
      for (const text of device.mismatches) fail('mismatched', `${device.name}: ${text}`);
      if (device.stream.size !== reference.size) {
        fail('mismatched', `${device.name} holds ${device.stream.size} of ${reference.size} seqs`);
      }
      for (const [seq, id] of device.stream) {
        if (reference.get(seq) !== id) fail('mismatched', `${device.name} differs at seq ${seq}`);
      }
    }
  }

  // Per sending device: its acknowledged packets lie in every participant's stream in ack order.
  for (const sender of devices) {
    const byPeer = new Map<string, string[]>();
    for (const id of sender.acked) {
      const to = ledger.sent.get(id)?.to ?? '';
      const list = byPeer.get(to) ?? [];
      list.push(id);
      byPeer.set(to, list);
    }
    for (const [peer, ids] of byPeer) {
      for (const user of new Set([sender.account.identifier, peer])) {
        const seqOf = relaySeq.get(user);
        let previous = 0;
        for (const id of ids) {
          const seq = seqOf?.get(id);
          if (seq === undefined) continue;
          if (seq <= previous) fail('outOfOrder', `${id} from ${sender.name} at seq ${seq}`);
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
    const orders = key.split(':').map((user) => {
      const seqOf = relaySeq.get(user);
      return ids
        .filter((id) => seqOf?.has(id) === true)
        .sort((x, y) => (seqOf?.get(x) ?? 0) - (seqOf?.get(y) ?? 0))
        .join();
    });
    if (orders[0] !== orders[1]) fail('outOfOrder', `conversation ${key} differs between streams`);
  }

  let storedUnacknowledged = 0;
  for (const record of ledger.sent.values()) {
    if (record.ack === undefined && relaySeq.get(record.from)?.has(record.id) === true) {
      storedUnacknowledged++;
    }
  }
  return { expected, ...count, storedUnacknowledged, examples };
}
