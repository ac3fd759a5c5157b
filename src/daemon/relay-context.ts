import type { Logger } from 'pino';
import type { Server, Socket } from 'socket.io';
import {
  groupSeqOf,
  importPublicKey,
  isStoredGroupRecord,
  type GroupStore,
  type KeyDirectory,
  type MessageStore,
  type PublicKey,
  type ServerToClientEvents,
  type StoredStreamRecord,
  type StreamRecord,
} from '../core/index.js';
import { StoreCorruptError } from './store-corrupt-error.js';
import type { RelayLimits } from './config.js';
import type { OutputBudget } from './output-budget.js';
import type { LoginLockout } from './login-lockout.js';
import type { FailureLimiter, TokenBucket } from './rate-limit.js';
import type { RefusalLog } from './refusal-log.js';
import type { ServerSecret } from './server-secret.js';
import type { SocketRegistry } from './socket-registry.js';
import { LRUCache } from 'lru-cache';

/** Incoming events are untyped on purpose: every payload is `unknown` until a schema parses it. */
export type RelayServer = Server<
  Record<string, (...args: unknown[]) => void>,
  ServerToClientEvents
>;
/** A connected socket of the relay. */
export type RelaySocket = Socket<
  Record<string, (...args: unknown[]) => void>,
  ServerToClientEvents
>;

/** Per-socket state: who it is once authenticated, and what it has spent of its limits. */
export interface Session {
  readonly socket: RelaySocket;
  readonly bucket: TokenBucket;
  /** The client's address (behind a trusted proxy, the forwarded one), as per-address limits count it. */
  readonly address: string;
  /** What this connection holds unsent. */
  readonly output: OutputBudget;
  identifier: string | undefined;
  nonce: string | undefined;
  /** An authenticate request is under way: a second one, or a disconnect, must not bind a ghost. */
  authenticating: boolean;
  /** A sync or history page is being read: one at a time per connection. */
  reading: boolean;
  loginFailures: number;
  /** Logins of this connection still being answered: a disconnect waits for their answers. */
  loginsInFlight: number;
  authFailures: number;
  registrations: number;
  /** Drops the connection if it has not authenticated in time; cleared once it has. */
  idle: NodeJS.Timeout | undefined;
}

/** What every handler shares. */
export interface RelayContext {
  readonly io: RelayServer;
  readonly keys: KeyDirectory;
  readonly store: MessageStore;
  /** The group logs (docs/protocol.md section 16). */
  readonly groups: GroupStore;
  readonly secret: ServerSecret;
  readonly limits: RelayLimits;
  readonly logger: Logger;
  /** Failed logins per identifier (registered or not), across daemons when they share a database. */
  readonly lockout: LoginLockout;
  /** Failed logins per client address, whatever the identifier (on this daemon). */
  readonly addressLoginLimiter: FailureLimiter;
  readonly refusals: RefusalLog;
  /** Registrations per client address in the last hour. */
  readonly registrationLimiter: FailureLimiter;
  /**
   * Other daemons share this relay (the PostgreSQL adapter): a user's sockets may be on any of
   * them, so broadcasts go out even when this daemon holds none of the room's sockets.
   */
  readonly clustered: boolean;
  /** Authenticated sockets per identifier (its `local` map: on this daemon) and the online flag. */
  readonly registry: SocketRegistry;
  readonly publicKeys: LRUCache<string, PublicKey>;
}

/** The Socket.IO room that holds every socket of one identifier. */
export function roomOf(identifier: string): string {
  return `user:${identifier}`;
}

/** A registered user's public key, parsed once and cached; undefined for an unknown identifier. */
export async function publicKeyOf(
  ctx: RelayContext,
  identifier: string,
): Promise<PublicKey | undefined> {
  const cached = ctx.publicKeys.get(identifier);
  if (cached) return cached;
  const record = await ctx.keys.get(identifier);
  if (!record) return undefined;
  const key = importPublicKey(record.publicKey);
  ctx.publicKeys.set(identifier, key);
  return key;
}

/**
/**
 * Stored records as one participant sees them: its own sequence number, and for its own packets
 * whether they were delivered, in a two-way conversation only (a stranger learns nothing of when the
 * recipient comes online). Each recipient's delivery cursor is read from the store once per call.
 */
export async function viewsOf(
  ctx: RelayContext,
  records: readonly StoredStreamRecord[],
  identifier: string,
): Promise<StreamRecord[]> {
  const cursors = new Map<string, number | undefined>();
  let peers: ReadonlySet<string> | undefined;
  const views: StreamRecord[] = [];
  for (const record of records) {
    if (isStoredGroupRecord(record)) {
      // A group message carries no delivered flag: no member learns when another comes online.
      const seq = groupSeqOf(record, identifier);
      if (seq === undefined) {
        throw new StoreCorruptError('stream', `record ${record.pos} is not in this stream`);
      }
      views.push({ seq, serverTime: record.serverTime, groupMessage: record.packet });
      continue;
    }
    const { packet } = record;
    const view = {
      seq: packet.from === identifier ? record.seqFrom : record.seqTo,
      serverTime: record.serverTime,
      packet,
    };
    if (packet.from !== identifier || packet.to === identifier) {
      views.push(view);
      continue;
    }
    peers ??= new Set(await ctx.store.peersOf(identifier));
    let cursor = cursors.get(packet.to);
    if (!cursors.has(packet.to)) {
      cursor = peers.has(packet.to) ? await ctx.store.deliveredUpTo(packet.to) : undefined;
      cursors.set(packet.to, cursor);
    }
    views.push(cursor === undefined ? view : { ...view, delivered: cursor >= record.seqTo });
  }
  return views;
}

/**
 * Runs a signature check with an identifier's cached key; if it fails, reads the entry again and,
 * when its key is another one (replaced by `rotate-key`, on this daemon or another of the same
 * database), caches that one and checks again. A forged signature costs one more lookup. With the
 * key cached and the check passing, it is done at once and returns undefined (no promise to wait
 * for); otherwise it returns the promise of the rest, which rejects as the check did.
 */
export function withCurrentKey(
  ctx: RelayContext,
  identifier: string,
  check: (key: PublicKey | undefined) => void,
): Promise<void> | undefined {
  const cached = ctx.publicKeys.get(identifier);
  if (cached) {
    try {
      check(cached);
      return undefined;
    } catch (error) {
      return recheck(ctx, identifier, check, cached, error);
    }
  }
  return (async () => {
    const key = await publicKeyOf(ctx, identifier);
    try {
      check(key);
    } catch (error) {
      await recheck(ctx, identifier, check, key, error);
    }
  })();
}

/** After a failed check with `key`: the entry's current key, if it is another one, checked again. */
async function recheck(
  ctx: RelayContext,
  identifier: string,
  check: (key: PublicKey | undefined) => void,
  key: PublicKey | undefined,
  error: unknown,
): Promise<void> {
  const record = await ctx.keys.get(identifier);
  if (record === undefined || record.publicKey === key?.encoded) throw error;
  const current = importPublicKey(record.publicKey);
  ctx.publicKeys.set(identifier, current);
  check(current);
}
