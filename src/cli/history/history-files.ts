// Where the local history lives in the profile directory, apart from the store (no native module to load).

import { chmodSync, lstatSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The history file in the profile directory (with `-wal` and `-shm` beside it while open). */
export const HISTORY_FILE = 'history.db';

/** The history file and the two SQLite keeps beside it while open. */
const HISTORY_SUFFIXES = ['', '-wal', '-shm'] as const;

/** Deletes this device's history files (logout, a deleted account): they belong to the profile. */
export async function removeHistoryFiles(home: string): Promise<void> {
  for (const suffix of HISTORY_SUFFIXES)
    await rm(join(home, `${HISTORY_FILE}${suffix}`), { force: true });
}

/** A history file that another user could read or write, and the mode it had before it was made 0600. */
export interface ModeFixed {
  readonly path: string;
  readonly mode: number;
}

/**
 * Makes each history file that exists private (0600) if group or others have any access to it (a
 * copy, a restore or a umask of another tool): SQLite gives a new -wal and -shm the mode of the
 * file, so this runs before it opens. Returns what it changed, for the caller to say once.
 */
export function makeHistoryPrivate(home: string): ModeFixed[] {
  const fixed: ModeFixed[] = [];
  for (const suffix of HISTORY_SUFFIXES) {
    const path = join(home, `${HISTORY_FILE}${suffix}`);
    let mode: number;
    try {
      const stats = lstatSync(path);
      if (!stats.isFile()) continue;
      mode = stats.mode & 0o777;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') continue;
      throw error;
    }
    if ((mode & 0o077) === 0) continue;
    chmodSync(path, 0o600);
    fixed.push({ path, mode });
  }
  return fixed;
}
