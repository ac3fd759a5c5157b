import {
  deleteAccountRequestSchema,
  importPublicKey,
  keyRequestSchema,
  parseWire,
  RelayError,
  verifyAccountDeletion,
  type DeletionResult,
} from '../core/index.js';
import { authoriseAccountChange } from './account-change-auth.js';
import { roomOf, type RelayContext, type Session } from './relay-context.js';

/** The server-side event that tells the other daemons of a database to drop a deleted account's cached key. */
export const ACCOUNT_DELETED_EVENT = 'account-deleted';

/**
 * `delete-account`: the account goes, authorised like `change-password` (the connection
 * authenticated as the identifier, the current login proof counted against the lockout) and by a
 * deletion statement the account key signed over this connection's fresh challenge, so a statement
 * seen once cannot delete anything again. The entry, the cursor and the presence go in one change,
 * a tombstone keeps the identifier from being registered again for `limits.retirementMs`, and every
 * socket of the account is closed (this one right after the answer).
 */
export async function deleteAccount(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const request = parseWire(deleteAccountRequestSchema, input, 'delete-account');
  if (session.identifier === undefined) {
    throw new RelayError('NOT_AUTHENTICATED', 'Authenticate this connection first.');
  }
  // The nonce is spent by this attempt, whatever its outcome: a retry asks for a new challenge.
  const nonce = session.nonce;
  session.nonce = undefined;
  if (nonce === undefined) {
    throw new RelayError(
      'NO_CHALLENGE',
      'Ask for a challenge before deleting the account: the deletion statement signs it, and each is good for one try.',
    );
  }
  if (request.statement.nonce !== nonce) {
    throw new RelayError(
      'DELETION_NONCE_MISMATCH',
      'The deletion statement was not made for this connection’s current challenge (a replay, or an older challenge): nothing was deleted. Ask for a challenge and sign again.',
    );
  }
  const record = await authoriseAccountChange(
    ctx,
    session,
    request.identifier,
    request.loginProof,
    {
      forbidden: 'This connection may delete only the account it authenticated as.',
      wrongPassword:
        'The password is wrong (or it was changed on another device: log in again there). Nothing was deleted.',
    },
  );
  const deletion = verifyAccountDeletion(
    importPublicKey(record.publicKey),
    request.identifier,
    request.statement,
  );
  const now = Date.now();
  const retired = await ctx.keys.retire(
    request.identifier,
    { publicKey: record.publicKey, loginProofHash: record.loginProofHash },
    {
      identifier: request.identifier,
      publicKey: record.publicKey,
      deletion,
      deletedAt: now,
      retiredUntil: now + ctx.limits.retirementMs,
    },
  );
  if (!retired) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'The account changed meanwhile (a new password or key on another device); log in again, then retry.',
    );
  }
  ctx.publicKeys.delete(request.identifier);
  if (ctx.clustered) ctx.io.serverSideEmit(ACCOUNT_DELETED_EVENT, request.identifier);
  // Peers see it go offline now (nothing is stored: its presence is gone); its sockets close.
  const offline = { identifier: request.identifier, online: false, lastSeen: now };
  for (const peer of await ctx.store.peersOf(request.identifier))
    ctx.io.to(roomOf(peer)).emit('presence', offline);
  ctx.io.in(roomOf(request.identifier)).except(session.socket.id).disconnectSockets(true);
  setImmediate(() => session.socket.disconnect(true));
  ctx.logger.info({ event: 'account-deleted' }, 'account deleted');
  return {};
}

/** The refusal for a deleted identifier, or undefined if it is not retired (unknown, or retired long ago). */
export async function deletedRefusal(
  ctx: RelayContext,
  identifier: string,
  what: string,
): Promise<RelayError | undefined> {
  const tombstone = await ctx.keys.retirement(identifier, Date.now());
  if (tombstone === undefined) return undefined;
  return new RelayError(
    'ACCOUNT_DELETED',
    `This account was deleted by its owner (${new Date(tombstone.deletedAt).toISOString().slice(0, 10)}); ${what}`,
  );
}

/** One day in milliseconds: the precision of a served `deletedAt`. */
const DAY_MS = 86_400_000;

/**
 * `deletion`: the tombstone of a deleted account as the relay keeps it (its last key, the time, the
 * statement its owner signed), so a contact told ACCOUNT_DELETED can check the deletion under the
 * key it pinned. UNKNOWN_IDENTIFIER if the identifier is not retired (never deleted, or long ago).
 */
export async function deletion(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<DeletionResult> {
  if (session.identifier === undefined) {
    throw new RelayError('NOT_AUTHENTICATED', 'Authenticate this connection first.');
  }
  const { identifier } = parseWire(keyRequestSchema, input, 'deletion');
  const tombstone = await ctx.keys.retirement(identifier, Date.now());
  if (tombstone === undefined) {
    throw new RelayError(
      'UNKNOWN_IDENTIFIER',
      'No account deleted under this identifier is remembered here.',
    );
  }
  return {
    publicKey: tombstone.publicKey,
    // The day only (00:00 UTC): the relay's clock at the deletion tells a contact nothing it needs.
    deletedAt: tombstone.deletedAt - (tombstone.deletedAt % DAY_MS),
    statement: tombstone.deletion,
  };
}
