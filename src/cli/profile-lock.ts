import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How long a save waits for another process's save before giving up. */
const WAIT_MS = 5_000;
/** A lock older than this was left by a process that died mid-save. */
const STALE_MS = 15_000;

/** Another metachat process kept the profile locked for longer than a save takes. */
export class ProfileBusyError extends Error {
  override readonly name = 'ProfileBusyError';
}

/**
 * Runs one read-merge-write of the profile while holding `profile.json.lock` (created exclusively),
 * so two processes saving at once cannot both merge against the same file and lose a change.
 */
export async function withProfileLock<T>(home: string, task: () => Promise<T>): Promise<T> {
  const lock = join(home, 'profile.json.lock');
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      await (await open(lock, 'wx', 0o600)).close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const since = await stat(lock).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (since > STALE_MS) {
        await rm(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ProfileBusyError(
          `Another metachat process is saving ${join(home, 'profile.json')}; try again (or remove ${lock} if none runs).`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
    }
  }
  try {
    return await task();
  } finally {
    await rm(lock, { force: true });
  }
}
