// Where the local history lives in the profile directory, apart from the store (no native module to load).

import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The history file in the profile directory (with `-wal` and `-shm` beside it while open). */
export const HISTORY_FILE = 'history.db';

/** Deletes this device's history files (logout, a deleted account): they belong to the profile. */
export async function removeHistoryFiles(home: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm'])
    await rm(join(home, `${HISTORY_FILE}${suffix}`), { force: true });
}
