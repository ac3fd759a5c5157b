// At login or register over a profile: the local history goes on under the new login, or is kept aside.

import { access, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { unwrapHistoryKey, wrapHistoryKey } from '../../core/index.js';
import type { Profile } from '../profile/profile.js';
import { writePrivateFile } from '../profile/private-file.js';
import { HISTORY_FILE } from './history-files.js';

/** The file beside a history kept aside: the key that opens it, wrapped as the old profile held it. */
export const ASIDE_KEY_SUFFIX = '.key.json';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** A free name `history.db.locked-<day>[-n]` in home. */
async function asideName(home: string, now: Date): Promise<string> {
  const day = now.toISOString().slice(0, 10);
  for (let n = 1; ; n++) {
    const name = `${HISTORY_FILE}.locked-${day}${n === 1 ? '' : `-${n}`}`;
    if (!(await exists(join(home, name))) && !(await exists(join(home, name + ASIDE_KEY_SUFFIX))))
      return name;
  }
}

/**
 * Called before a login or registration saves its new profile over `previous` (the profile that was
 * in home, if it could be read). When the old history key opens with the new login's wrap key (the
 * same account and password: `login --force` again), it is carried into `next`, so the history goes
 * on. Otherwise (a password changed on another device, another account) the history files are
 * renamed to `history.db.locked-<day>` (with -wal and -shm) and the old wrapped key, identifier and
 * KDF parameters saved beside it (`.key.json`), so nothing is lost and a new history starts; returns
 * what to tell the user (null when there was nothing to set aside).
 */
export async function carryOrSetAsideHistory(
  home: string,
  previous: Profile | undefined,
  next: Profile,
  wrapKey: Uint8Array | undefined,
  now = new Date(),
): Promise<string | null> {
  const old = previous?.historyKey;
  if (old !== undefined && previous?.identifier === next.identifier && wrapKey !== undefined) {
    const key = unwrapHistoryKey(old, wrapKey, next.identifier);
    if (key !== null) {
      next.historyKey = wrapHistoryKey(key, wrapKey, next.identifier);
      return null;
    }
  }
  if (!(await exists(join(home, HISTORY_FILE)))) return null;
  const name = await asideName(home, now);
  if (old !== undefined && previous !== undefined)
    await writePrivateFile(
      home,
      name + ASIDE_KEY_SUFFIX,
      `${JSON.stringify({ identifier: previous.identifier, username: previous.username, kdf: previous.kdf, historyKey: old }, null, 2)}\n`,
    );
  // The write-ahead log keeps its file's name + "-wal": renamed together, the copy stays whole.
  for (const suffix of ['-wal', '-shm', ''])
    if (await exists(join(home, HISTORY_FILE + suffix)))
      await rename(join(home, HISTORY_FILE + suffix), join(home, name + suffix));
  const path = join(home, name);
  const whose =
    previous === undefined
      ? 'a profile that could not be read'
      : previous.identifier === next.identifier
        ? 'an older password of this account (changed on another device?)'
        : `the account ${previous.username}`;
  return old === undefined || previous === undefined
    ? `The local history in ${home} does not open with this login and its key is lost: kept aside as ${path} (nothing deleted); a new history starts.`
    : `The local history in ${home} was made under ${whose}, whose key does not open with this login: kept aside as ${path}, with its wrapped key in ${path}${ASIDE_KEY_SUFFIX} (nothing deleted); a new history starts. To read it again: metachat history-unlock ${path} (asks the password it was made under).`;
}
