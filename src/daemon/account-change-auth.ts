import {
  base64ToBytes,
  constantTimeEqual,
  hashLoginProof,
  hexToBytes,
  RelayError,
} from '../core/index.js';
import type { UserRecord } from '../core/index.js';
import type { RelayContext, Session } from './relay-context.js';

/** What an account change says when it is refused: the action, and the wrong-password line. */
export interface AccountChangeWords {
  readonly forbidden: string;
  readonly wrongPassword: string;
}

/**
 * The authorisation every account change shares (change-password, rotate-key): the socket is
 * authenticated as the identifier, and the current login proof matches, counted against the login
 * lockout like a login. Returns the stored record the change applies to.
 */
export async function authoriseAccountChange(
  ctx: RelayContext,
  session: Session,
  identifier: string,
  oldLoginProof: string,
  words: AccountChangeWords,
): Promise<UserRecord> {
  if (session.identifier === undefined) {
    throw new RelayError('NOT_AUTHENTICATED', 'Authenticate this connection first.');
  }
  if (identifier !== session.identifier) throw new RelayError('FORBIDDEN_SENDER', words.forbidden);
  const wait = await ctx.lockout.attempt(identifier, true);
  if (wait > 0) {
    const seconds = Math.max(1, Math.ceil(wait / 1000));
    throw new RelayError('RATE_LIMITED', `Too many failed logins; try again in ${seconds} s.`);
  }
  const record = await ctx.keys.get(identifier);
  const given = hashLoginProof(base64ToBytes(oldLoginProof));
  if (!record || !constantTimeEqual(given, hexToBytes(record.loginProofHash))) {
    ctx.refusals.note('login-failed', 'LOGIN_FAILED');
    throw new RelayError('LOGIN_FAILED', words.wrongPassword);
  }
  await ctx.lockout.succeeded(identifier);
  return record;
}
