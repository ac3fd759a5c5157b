import {
  authenticateRequestSchema,
  newAuthNonce,
  parseWire,
  RelayError,
  verifyAuthProof,
  AuthProofInvalidError,
  MalformedInputError,
  type PresenceUpdate,
} from '../core/index.js';
import { roomOf, withCurrentKey, type RelayContext, type Session } from './relay-context.js';

/** `challenge`: a fresh nonce for this socket, good for one authentication attempt. */
export function challenge(
  _ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<{ nonce: string }> {
  if (input !== undefined) {
    return Promise.reject(new MalformedInputError('challenge takes no payload.'));
  }
  session.nonce = newAuthNonce();
  return Promise.resolve({ nonce: session.nonce });
}

/** `authenticate`: binds the socket to an identifier once it proves it holds the private key. */
export async function authenticate(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  if (session.identifier !== undefined || session.authenticating) {
    throw new RelayError(
      'ALREADY_AUTHENTICATED',
      'This connection is already authenticated (or authenticating).',
    );
  }
  const { identifier, proof } = parseWire(authenticateRequestSchema, input, 'authenticate');
  const nonce = session.nonce;
  session.nonce = undefined;
  if (nonce === undefined) {
    throw new RelayError(
      'NO_CHALLENGE',
      'Ask for a challenge before authenticating; each one is good for one try.',
    );
  }
  session.authenticating = true;
  try {
    await bind(ctx, session, identifier, nonce, proof);
  } finally {
    session.authenticating = false;
  }
  return {};
}

async function bind(
  ctx: RelayContext,
  session: Session,
  identifier: string,
  nonce: string,
  proof: string,
): Promise<void> {
  try {
    await withCurrentKey(ctx, identifier, (key) => {
      if (!key)
        throw new AuthProofInvalidError(
          'Authentication failed: the proof does not match this identifier’s registered key.',
        );
      verifyAuthProof(key, identifier, nonce, proof);
    });
  } catch (error) {
    session.authFailures++;
    if (session.authFailures >= ctx.limits.authFailuresPerConnection) {
      setImmediate(() => session.socket.disconnect(true));
    }
    throw error;
  }
  if (!session.socket.connected) {
    throw new RelayError('NOT_AUTHENTICATED', 'The connection closed while authenticating.');
  }
  const socket = session.socket.id;
  const first = await ctx.registry.claim(identifier, socket, ctx.limits.maxSocketsPerIdentifier);
  if (!stillOpen(session)) {
    // It closed while its place was being taken: leave() found no identifier, so give it back here.
    await ctx.registry.release(identifier, socket);
    throw new RelayError('NOT_AUTHENTICATED', 'The connection closed while authenticating.');
  }
  session.identifier = identifier;
  clearTimeout(session.idle);
  session.idle = undefined;
  await session.socket.join(roomOf(identifier));
  if (first) await announce(ctx, { identifier, online: true, lastSeen: Date.now() });
  for (const peer of await ctx.store.peersOf(identifier)) {
    const presence = await ctx.store.getPresence(peer);
    if (presence) session.socket.emit('presence', presence);
  }
}

/** Whether the socket is still connected (read again after an await). */
function stillOpen(session: Session): boolean {
  return session.socket.connected;
}

/** Called when a socket closes: the last socket of a user takes it offline. */
export async function leave(ctx: RelayContext, session: Session): Promise<void> {
  const identifier = session.identifier;
  if (identifier === undefined) return;
  if (!(await ctx.registry.release(identifier, session.socket.id))) return;
  // A deleted account's presence is gone (delete-account told its peers): nothing to store.
  if ((await ctx.keys.get(identifier)) === undefined) return;
  await announce(ctx, { identifier, online: false, lastSeen: Date.now() });
}

/** Identifiers whose sockets went with a dead daemon: those not back elsewhere go offline. */
export async function vanished(ctx: RelayContext, identifiers: readonly string[]): Promise<void> {
  for (const identifier of identifiers) {
    if (await ctx.registry.isOnline(identifier)) continue;
    if ((await ctx.keys.get(identifier)) === undefined) continue;
    await announce(ctx, { identifier, online: false, lastSeen: Date.now() });
  }
}

/** Stores a presence change, then tells the peers the state as it is now (a later change may have won). */
async function announce(ctx: RelayContext, update: PresenceUpdate): Promise<void> {
  await ctx.store.setPresence(update);
  const current = (await ctx.store.getPresence(update.identifier)) ?? update;
  for (const peer of await ctx.store.peersOf(update.identifier))
    ctx.io.to(roomOf(peer)).emit('presence', current);
}
