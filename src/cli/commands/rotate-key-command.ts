import { MAX_KEPT_ROTATIONS } from '../../core/index.js';
import type { CliContext } from '../cli-context.js';
import { KeyChangedError } from '../cli-errors.js';
import { prepareKeyRotation } from '../relay/key-rotation-change.js';
import { withSpinner } from '../terminal/spinner.js';
import { withSession } from './with-session.js';

/** What `rotate-key` tells the user about their other devices and their contacts. */
export const ROTATION_NOTE = `Your contacts' devices accept the new key by themselves (your previous key signed it) and say so. Your other devices must log in again ("metachat login --force"): their key no longer authenticates. Messages sealed to your previous keys stay readable on your devices: the relay keeps the newest ${String(MAX_KEPT_ROTATIONS)} replaced keys, wrapped under your password.`;

/**
 * `rotate-key`: a new key pair replaces this account's, announced by a rotation statement that the
 * old key and the new key both sign, authorised by the password (the current login proof).
 */
export async function rotateKeyCommand(ctx: CliContext): Promise<void> {
  const done = await withSession(ctx, async (session) => {
    const password = await ctx.password(false);
    const { identifier } = session.account;
    const own = await session.client.lookup(identifier);
    if (own.publicKey !== session.profile.publicKey) {
      throw new KeyChangedError(
        'The relay serves another key for your own account than this device holds: it was replaced on another device (log in again with "metachat login --force"), or the relay is lying. Nothing was changed.',
      );
    }
    const lastCounter = own.rotations.at(-1)?.counter ?? 0;
    const seen = session.profile.credentialsGeneration ?? 0;
    const prepared = await withSpinner('Generating a new key pair', () =>
      prepareKeyRotation(session.account, password, lastCounter, seen),
    );
    await session.client.rotateKey(prepared.request);
    Object.assign(session.profile, {
      publicKey: prepared.keyPair.publicKey.encoded,
      wrappedPrivateKey: prepared.wrappedPrivateKey,
      credentialsGeneration: prepared.generation,
      replacedKeys: prepared.replacedKeys.map((key) => key.wrapped),
    });
    return {
      previous: session.account.keyPair.publicKey.fingerprint,
      fingerprint: prepared.keyPair.publicKey.fingerprint,
      rotation: prepared.request.rotation.counter,
    };
  });
  ctx.print(
    `Key replaced. New fingerprint: ${done.fingerprint} (previous: ${done.previous}). ${ROTATION_NOTE}`,
    { rotated: true, ...done, keptReplacedKeys: MAX_KEPT_ROTATIONS, note: ROTATION_NOTE },
  );
}
