import {
  historyRequestSchema,
  isStoredGroupRecord,
  keyRequestSchema,
  packetSchema,
  parsePacket,
  parseWire,
  receiptRequestSchema,
  RelayError,
  syncRequestSchema,
  verifyParsedPacketSignature,
  type KeyRotation,
  type Packet,
  type PacketPage,
  type PairState,
  type StoredPacket,
  type StoredRecord,
  type StoredStreamRecord,
  type StreamRecord,
} from '../core/index.js';
import {
  publicKeyOf,
  roomOf,
  viewsOf,
  withCurrentKey,
  type RelayContext,
  type Session,
} from './relay-context.js';
import { deletedRefusal } from './delete-account-handler.js';
import { streamRecordJson, type EncodedJson } from './push-encoding.js';

/** Page sizes when the client does not ask for one. */
const DEFAULT_SYNC_LIMIT = 100;
const DEFAULT_HISTORY_LIMIT = 50;

/** The connection's identifier; NOT_AUTHENTICATED before authentication. */
export function me(session: Session): string {
  if (session.identifier === undefined) {
    throw new RelayError('NOT_AUTHENTICATED', 'Authenticate this connection first.');
  }
  return session.identifier;
}

/** `key`: a registered user's public key. */
export async function key(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<{ publicKey: string; rotations?: KeyRotation[] }> {
  me(session);
  const { identifier } = parseWire(keyRequestSchema, input, 'key');
  const record = await ctx.keys.get(identifier);
  if (!record) {
    throw (
      (await deletedRefusal(ctx, identifier, 'it has no key any more.')) ??
      new RelayError('UNKNOWN_IDENTIFIER', 'No user is registered under this identifier.')
    );
  }
  // The rotation statements travel with the key, so a peer that pinned an older one can follow.
  return record.rotations === undefined
    ? { publicKey: record.publicKey }
    : { publicKey: record.publicKey, rotations: [...record.rotations] };
}

/**
 * `send`: checks the packet (schema, sender, recipient, signature), stores it durably once, then
 * acknowledges and pushes it to the recipient's sockets and the sender's other sockets. A resend
 * equal in every field to the stored packet of its id is acknowledged again without a second
 * signature check; one that differs in any byte is checked, and refused, like any other packet.
 */
export async function send(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<{ seq: number; serverTime: number; duplicate: boolean }> {
  const sender = me(session);
  const packet = parsePacket(input);
  if (packet.from !== sender) {
    throw new RelayError(
      'FORBIDDEN_SENDER',
      'A packet must come from the identifier this connection authenticated as.',
    );
  }
  if (
    packet.to !== sender &&
    !ctx.publicKeys.has(packet.to) &&
    !(await publicKeyOf(ctx, packet.to))
  ) {
    throw (
      (await deletedRefusal(ctx, packet.to, 'messages to it are refused.')) ??
      new RelayError('UNKNOWN_IDENTIFIER', 'The recipient is not registered on this relay.')
    );
  }
  // A resend of a stored packet, equal in every field, was verified when it was first stored.
  const earlier = await ctx.store.storedRecord?.(packet.id);
  if (earlier && !isStoredGroupRecord(earlier) && samePacket(earlier.packet, packet)) {
    return { seq: earlier.seqFrom, serverTime: earlier.serverTime, duplicate: true };
  }
  const checking = withCurrentKey(ctx, sender, (senderKey) => {
    if (!senderKey)
      throw new RelayError('UNKNOWN_IDENTIFIER', 'The sender is not registered on this relay.');
    verifyParsedPacketSignature(packet, senderKey);
  });
  // A cached key that verifies answers at once: no turn of the event loop for it.
  if (checking) await checking;
  const { record, duplicate, pair, packetJson } = await ctx.store.append(packet, Date.now());
  if (
    isStoredGroupRecord(record) ||
    record.packet.from !== sender ||
    (duplicate && record.packet.sig !== packet.sig)
  ) {
    throw new RelayError(
      'PACKET_ID_TAKEN',
      'Another packet already uses this id; seal the message again.',
    );
  }
  if (!duplicate) await push(ctx, session, record, pair, packetJson);
  // Only the packet that made the contact can have made the conversation two-way.
  if (!duplicate && pair?.firstContact === true) await introduce(ctx, sender, packet.to);
  return { seq: record.seqFrom, serverTime: record.serverTime, duplicate };
}

/** Every field of a packet, from its schema: a field added later is compared too. */
const PACKET_FIELDS = Object.keys(packetSchema.shape) as (keyof Packet)[];

/** Whether two parsed packets are equal in every field (so the signature of one is the other's). */
function samePacket(a: Packet, b: Packet): boolean {
  return PACKET_FIELDS.every((field) => a[field] === b[field]);
}

/**
 * The first reply makes a conversation two-way: from then on each side is told of the other's
 * presence, starting now (otherwise neither would see the other online until it reconnected).
 */
async function introduce(ctx: RelayContext, from: string, to: string): Promise<void> {
  if (!(await ctx.store.peersOf(from)).includes(to)) return;
  const [ofFrom, ofTo] = await Promise.all([
    ctx.store.getPresence(from),
    ctx.store.getPresence(to),
  ]);
  if (ofTo) ctx.io.to(roomOf(from)).emit('presence', ofTo);
  if (ofFrom) ctx.io.to(roomOf(to)).emit('presence', ofFrom);
}

/**
 * The sender's own view of a packet it just stored, from what the append saw (no store query): the
 * same as `viewsOf` gives, with the delivered flag in a two-way conversation only.
 */
function ownView(record: StoredRecord, pair: PairState): StoredPacket {
  const view = { seq: record.seqFrom, serverTime: record.serverTime, packet: record.packet };
  return pair.twoWay ? { ...view, delivered: pair.delivered >= record.seqTo } : view;
}

/**
 * Pushes a stored packet to the recipient's sockets and the sender's other sockets. On a relay
 * alone (no cluster adapter to serialize for other daemons), a push reuses the packet's JSON as
 * the store wrote it instead of encoding the packet again: the same bytes reach the client.
 */
async function push(
  ctx: RelayContext,
  session: Session,
  record: StoredRecord,
  pair: PairState | undefined,
  packetJson: string | undefined,
): Promise<void> {
  const { from, to } = record.packet;
  const toRecipient = to !== from && (ctx.clustered || ctx.registry.local.has(to));
  // Socket.IO encodes a broadcast before it looks for recipients: skip the sender's room when empty.
  const toSender = ctx.clustered || (ctx.registry.local.get(from)?.size ?? 0) > 1;
  if (!ctx.clustered && packetJson !== undefined && (pair !== undefined || from === to)) {
    const { seqFrom, seqTo, serverTime } = record;
    // The views viewsOf and ownView give: the recipient's without a delivered flag, the sender's
    // with one in a two-way conversation only.
    if (toRecipient) {
      ctx.io
        .to(roomOf(to))
        .emit('packet', encoded(streamRecordJson(seqTo, serverTime, packetJson)));
    }
    if (toSender) {
      const delivered = pair?.twoWay === true ? pair.delivered >= seqTo : undefined;
      session.socket
        .to(roomOf(from))
        .emit('packet', encoded(streamRecordJson(seqFrom, serverTime, packetJson, delivered)));
    }
    return;
  }
  const [recipientView] = toRecipient ? await viewsOf(ctx, [record], to) : [];
  const [senderView] = !toSender
    ? []
    : pair
      ? [ownView(record, pair)]
      : await viewsOf(ctx, [record], from);
  if (recipientView) ctx.io.to(roomOf(to)).emit('packet', recipientView);
  if (senderView) session.socket.to(roomOf(from)).emit('packet', senderView);
}

/** A pre-encoded record where the typed event wants the record it encodes (see push-encoding.ts). */
function encoded(json: EncodedJson): StreamRecord {
  return json as unknown as StreamRecord;
}

/**
 * Most bytes of stored records in one page: a page of 500 large packets would be tens of megabytes.
 * The store cuts the page by the records' sizes before it reads any of them.
 */
const MAX_PAGE_BYTES = 2 * 1024 * 1024;

/** One page for one reader, as the store cut it. */
async function page(
  ctx: RelayContext,
  identifier: string,
  records: readonly StoredStreamRecord[],
  more: boolean,
): Promise<PacketPage> {
  return { packets: await viewsOf(ctx, records, identifier), more };
}

/**
 * Runs one page read; a connection may have one in flight, so it cannot pile up reads, and none is
 * read while the connection still holds the previous page unsent (a reader that stopped reading
 * waits here, then is refused, instead of having pages piled up in the relay's memory).
 */
export async function oneRead<T>(
  ctx: RelayContext,
  session: Session,
  read: () => Promise<T>,
): Promise<T> {
  if (session.reading)
    throw new RelayError('RATE_LIMITED', 'One page at a time: wait for the previous one.');
  session.reading = true;
  try {
    const { pageReadBelowBytes, pageDrainWaitMs } = ctx.limits;
    if (!(await session.output.waitBelow(pageReadBelowBytes, pageDrainWaitMs))) {
      throw new RelayError(
        'RATE_LIMITED',
        'The previous page has not been received yet; read it before asking for another.',
      );
    }
    return await read();
  } finally {
    session.reading = false;
  }
}

/** `sync`: my stream after a cursor, oldest first, one page at a time. */
export async function sync(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<PacketPage> {
  const identifier = me(session);
  const { after, limit } = parseWire(syncRequestSchema, input, 'sync');
  const result = await oneRead(ctx, session, () =>
    ctx.store.since(identifier, after, limit ?? DEFAULT_SYNC_LIMIT, MAX_PAGE_BYTES),
  );
  return page(ctx, identifier, result.records, result.more);
}

/**
 * `history`: one page of one conversation (with a peer, or a group's messages in my stream),
 * before a sequence number of mine.
 */
export async function history(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<PacketPage> {
  const identifier = me(session);
  const request = parseWire(historyRequestSchema, input, 'history');
  const { before, limit } = request;
  const result = await oneRead(ctx, session, () =>
    'group' in request
      ? ctx.store.groupConversation(
          identifier,
          request.group,
          before,
          limit ?? DEFAULT_HISTORY_LIMIT,
          MAX_PAGE_BYTES,
        )
      : ctx.store.conversation(
          identifier,
          request.peer,
          before,
          limit ?? DEFAULT_HISTORY_LIMIT,
          MAX_PAGE_BYTES,
        ),
  );
  return page(ctx, identifier, result.records, result.more);
}

/**
 * `receipt`: my device holds my stream up to a sequence number; tell the senders theirs arrived, if
 * they share a two-way conversation with me (where presence goes too): a stranger's packet is no
 * way to learn when my device comes online.
 */
export async function receipt(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const identifier = me(session);
  const { upTo } = parseWire(receiptRequestSchema, input, 'receipt');
  const covered = await ctx.store.acknowledge(identifier, upTo);
  if (covered.length === 0) return {};
  const peers = new Set(await ctx.store.peersOf(identifier));
  for (const { id, from, seqFrom } of covered) {
    // Only two-way peers learn of delivery; Socket.IO encodes a broadcast before it looks for
    // recipients, so senders with no connection here are skipped (unless other daemons may hold one).
    if (!peers.has(from) || !(ctx.clustered || ctx.registry.local.has(from))) continue;
    ctx.io.to(roomOf(from)).emit('delivered', { id, to: identifier, seq: seqFrom });
  }
  return {};
}
