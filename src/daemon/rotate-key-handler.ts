import {
  importPublicKey,
  MAX_KEPT_ROTATIONS,
  parseWire,
  RelayError,
  rotateKeyRequestSchema,
  RotationChainBrokenError,
  RotationRolledBackError,
  verifyCredentials,
  verifyKeyRotation,
} from '../core/index.js';
import { authoriseAccountChange } from './account-change-auth.js';
import type { RelayContext, Session } from './relay-context.js';

/**
 * `rotate-key`: a new key pair replaces the account's. Authorised like `change-password` (the
 * socket authenticated as the identifier, the current login proof, counted against the lockout),
 * and by the rotation statement that the old key and the new key both signed, the next in the
 * identifier's chain. The old key pair stays, wrapped, among the replaced keys (the newest
 * MAX_KEPT_ROTATIONS), so its owner's devices still open what was sealed to it.
 */
export async function rotateKey(
  ctx: RelayContext,
  session: Session,
  input: unknown,
): Promise<object> {
  const request = parseWire(rotateKeyRequestSchema, input, 'rotate-key');
  const newKey = importPublicKey(request.publicKey);
  const record = await authoriseAccountChange(
    ctx,
    session,
    request.identifier,
    request.oldLoginProof,
    {
      forbidden: 'This connection may replace only the key of the account it authenticated as.',
      wrongPassword:
        'The password is wrong (or it was changed on another device: log in again there).',
    },
  );
  const { statement } = verifyKeyRotation(request.rotation, request.identifier);
  if (statement.newKey !== newKey.encoded) {
    throw new RotationChainBrokenError(
      'The rotation statement introduces another key than the one sent with it.',
    );
  }
  if (statement.oldKey !== record.publicKey) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'The key was already replaced (on another device?); log in again, then retry.',
    );
  }
  const rotations = record.rotations ?? [];
  const last = rotations.at(-1)?.counter ?? 0;
  if (statement.counter <= last) {
    throw new RotationRolledBackError(
      'This rotation statement is not newer than the last one stored: it is a replay.',
    );
  }
  if (statement.counter !== last + 1) {
    throw new RotationChainBrokenError(
      `The next rotation of this account is number ${String(last + 1)}, not ${String(statement.counter)}.`,
    );
  }
  const credentials = request.credentials;
  if (credentials.generation <= (record.credentials?.generation ?? 0)) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'A newer password change is already stored; log in again, then retry.',
    );
  }
  verifyCredentials(
    newKey,
    {
      identifier: request.identifier,
      generation: credentials.generation,
      kdf: record.kdf,
      wrappedPrivateKey: request.wrappedPrivateKey,
      loginProofHash: record.loginProofHash,
      previousProofHash: record.loginProofHash,
    },
    credentials.signature,
  );
  if (credentials.previousProofHash !== record.loginProofHash) {
    throw new RelayError('STALE_CREDENTIALS', 'The credentials changed meanwhile; try again.');
  }
  const replaced = await ctx.keys.rotateKey(
    request.identifier,
    { publicKey: record.publicKey, loginProofHash: record.loginProofHash },
    {
      publicKey: newKey.encoded,
      wrappedPrivateKey: request.wrappedPrivateKey,
      credentials,
      rotations: [...rotations, statement].slice(-MAX_KEPT_ROTATIONS),
      replacedKeys: [
        {
          publicKey: record.publicKey,
          wrappedPrivateKey: record.wrappedPrivateKey,
          replacedAt: statement.time,
        },
        ...(record.replacedKeys ?? []),
      ].slice(0, MAX_KEPT_ROTATIONS),
    },
  );
  if (!replaced) {
    throw new RelayError(
      'STALE_CREDENTIALS',
      'Another change of this account won the race; log in again, then retry.',
    );
  }
  ctx.publicKeys.delete(request.identifier);
  ctx.logger.info({ event: 'key-rotated' }, 'key rotated');
  return {};
}
