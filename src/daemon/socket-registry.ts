import { RelayError } from '../core/index.js';

/**
 * Who is connected: the authenticated sockets per identifier, on this daemon (`local`) and, with
 * several daemons on one database, on all of them. It enforces the socket cap per identifier and
 * tells when an identifier's first socket arrives or its last one leaves (the online flag).
 */
export interface SocketRegistry {
  /** The sockets of each identifier on this daemon. */
  readonly local: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * Takes a place for the socket, or throws TOO_MANY_SOCKETS when the identifier holds `cap`
   * already; resolves to whether it is the identifier's only socket now, on any daemon.
   */
  claim(identifier: string, socket: string, cap: number): Promise<boolean>;
  /** Gives the place back; resolves to whether the identifier has no socket left on any daemon. */
  release(identifier: string, socket: string): Promise<boolean>;
  /** Whether the identifier has a socket on any daemon. */
  isOnline(identifier: string): Promise<boolean>;
  /** Stops any background work; the registry's places of this daemon go with it. */
  close(): Promise<void>;
}

/** The refusal when an identifier holds its cap of sockets. */
export function tooManySockets(): RelayError {
  return new RelayError(
    'TOO_MANY_SOCKETS',
    'Too many devices are connected for this user; close one and retry.',
  );
}

/** Adds a socket to a per-identifier map of sets. */
export function addLocal(map: Map<string, Set<string>>, identifier: string, socket: string): void {
  const sockets = map.get(identifier) ?? new Set<string>();
  sockets.add(socket);
  map.set(identifier, sockets);
}

/** Removes a socket from a per-identifier map of sets; resolves to whether none is left. */
export function removeLocal(
  map: Map<string, Set<string>>,
  identifier: string,
  socket: string,
): boolean {
  const sockets = map.get(identifier);
  sockets?.delete(socket);
  if (sockets && sockets.size > 0) return false;
  map.delete(identifier);
  return true;
}

/** The registry of one daemon alone (the lowdb store): every socket is in this process. */
export class LocalSocketRegistry implements SocketRegistry {
  private readonly sockets = new Map<string, Set<string>>();

  get local(): ReadonlyMap<string, ReadonlySet<string>> {
    return this.sockets;
  }

  claim(identifier: string, socket: string, cap: number): Promise<boolean> {
    if ((this.sockets.get(identifier)?.size ?? 0) >= cap) return Promise.reject(tooManySockets());
    addLocal(this.sockets, identifier, socket);
    return Promise.resolve(this.sockets.get(identifier)?.size === 1);
  }

  release(identifier: string, socket: string): Promise<boolean> {
    return Promise.resolve(removeLocal(this.sockets, identifier, socket));
  }

  isOnline(identifier: string): Promise<boolean> {
    return Promise.resolve(this.sockets.has(identifier));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
