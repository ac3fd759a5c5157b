import { open, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How long a save waits for a live process's save before giving up. */
const WAIT_MS = 5_000;
/** A lock older than this was left by a process that hung or died mid-save (a save takes ms). */
const STALE_MS = 10_000;

/** Another metachat process kept the profile locked for longer than a save takes. */
export class ProfileBusyError extends Error {
  override readonly name = 'ProfileBusyError';
}

/** Whether a lock was left behind: its process is gone, or it is older than any save. */
async function isStale(lock: string): Promise<boolean> {
  const [info, holder] = await Promise.all([
    stat(lock).catch(() => undefined),
    readFile(lock, 'utf8').catch(() => ''),
  ]);
  if (info === undefined) return false;
  if (Date.now() - info.mtimeMs > STALE_MS) return true;
  const pid = Number(holder);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Runs one read-merge-write of the profile while holding `profile.json.lock` (created exclusively,
 * holding the pid), so two processes saving at once cannot both merge against the same file and
 * lose a change. A lock whose process is gone, or that is older than any save, is taken over.
 */
export async function withProfileLock<T>(home: string, task: () => Promise<T>): Promise<T> {
  const lock = join(home, 'profile.json.lock');
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await open(lock, 'wx', 0o600);
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (await isStale(lock)) {
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
