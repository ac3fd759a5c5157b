import {
  changePasswordRequestSchema,
  importPublicKey,
  loginProofHashHex,
  parseKdfParams,
  parseWire,
  RelayError,
  verifyCredentials,
} from '../core/index.js';
import { authoriseAccountChange } from './account-change-auth.js';
import type { RelayContext, Session } from './relay-context.js';

/**
 * `change-password` (passwd, and the KDF upgrade at login): new KDF parameters, wrap and proof
 * hash, authorised three ways at once: the socket is authenticated as the identifier, the current
 * login proof matches (counted against the login lockout like a login), and the account key signed
 * the credentials statement. The old proof stops working the moment this resolves.
 */
export async function changePassword(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const request = parseWire(changePasswordRequestSchema, input, 'change-password');
  const kdf = parseKdfParams(request.kdf);
  const record = await authoriseAccountChange(
    ctx,
    session,
    request.identifier,
    request.oldLoginProof,
    {
      forbidden: 'This connection may change only the password of the account it authenticated as.',
      wrongPassword:
        'The current password is wrong (or it was changed on another device: log in again there).',
    },
  );
  if (request.statement.generation <= (record.credentials?.generation ?? 0)) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'A newer password change is already stored; log in again with the current password.',
    );
  }
  const loginProofHash = loginProofHashHex(request.loginProof);
  verifyCredentials(
    importPublicKey(record.publicKey),
    {
      identifier: request.identifier,
      generation: request.statement.generation,
      kdf,
      wrappedPrivateKey: request.wrappedPrivateKey,
      loginProofHash,
      previousProofHash: record.loginProofHash,
    },
    request.statement.signature,
  );
  if (request.statement.previousProofHash !== record.loginProofHash) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'The change was made against other credentials than the stored ones; try again.',
    );
  }
  // The replaced keys (section 5b) are wrapped under the password too: each must come re-wrapped.
  const stored = record.replacedKeys ?? [];
  const rewrapped = request.replacedKeys ?? [];
  if (
    rewrapped.length !== stored.length ||
    rewrapped.some((key, i) => {
      const kept = stored[i];
      return kept?.publicKey !== key.publicKey || kept.replacedAt !== key.replacedAt;
    })
  ) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'The change does not carry every replaced key of the account wrapped again; log in again, then retry.',
    );
  }
  const replaced = await ctx.keys.replaceCredentials(request.identifier, record, {
    kdf,
    wrappedPrivateKey: request.wrappedPrivateKey,
    loginProofHash,
    credentials: request.statement,
    ...(stored.length === 0 ? {} : { replacedKeys: rewrapped }),
  });
  if (!replaced) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'Another password change won the race; log in again with the current password.',
    );
  }
  ctx.logger.info({ event: 'credentials-changed' }, 'credentials changed');
  return {};
}
