import {
  isGroupRecord,
  isStoredGroupRecord,
  type StoredPacket,
  type StoredRecord,
  type StoredStreamRecord,
  type StreamRecord,
} from '../../src/core/index.js';

/** A stream record a test expects to be a packet's (not a group message's): fails the test otherwise. */
export function asPacket(stored: StreamRecord): StoredPacket {
  if (isGroupRecord(stored))
    throw new Error(`expected a packet at seq ${stored.seq}, got a group message`);
  return stored;
}

/** Every record of a page, each expected to be a packet's. */
export function packetsOf(records: readonly StreamRecord[]): StoredPacket[] {
  return records.map(asPacket);
}

/** A stored record a store test expects to be a packet's. */
export function asPacketRecord(record: StoredStreamRecord): StoredRecord {
  if (isStoredGroupRecord(record))
    throw new Error(`expected a packet at ${record.pos}, got a group message`);
  return record;
}

/** Every stored record of a page, each expected to be a packet's. */
export function packetRecordsOf(records: readonly StoredStreamRecord[]): StoredRecord[] {
  return records.map(asPacketRecord);
}
