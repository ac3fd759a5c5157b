import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const TEMP_PREFIX = '.tmp-';

/** Makes a directory's entries (a file created or renamed in it) durable. */
export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeTemp(path: string, contents: string): Promise<string> {
  const temp = join(
    dirname(path),
    `${TEMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`,
  );
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(contents, 'utf8');
    await handle.sync();
  } catch (error) {
    // A full disk: the half-written temp would hold on to the space that is missing.
    await handle.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  return temp;
}

/**
 * Replaces a file so that a crash at any instant leaves either the old or the new contents:
 * temp file, fsync, rename over, fsync the directory.
 */
export async function writeFileAtomic(path: string, contents: string): Promise<void> {
  const temp = await writeTemp(path, contents);
  try {
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await fsyncDirectory(dirname(path));
}

/**
 * Creates a file only if none exists, atomically and durably; resolves false if it exists.
 * A hard link refuses to replace an existing name, so two racing creators cannot both win.
 */
export async function createFileExclusive(path: string, contents: string): Promise<boolean> {
  const temp = await writeTemp(path, contents);
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await unlink(temp).catch(() => undefined);
    await fsyncDirectory(dirname(path));
  }
}

/** Creates a private directory (0700) and its parents. */
export async function ensureDirectory(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
}

/** Removes temp files left by a crash in the middle of a write; they were never acknowledged. */
export async function removeStaleTemps(directory: string): Promise<number> {
  const names = await readdir(directory).catch(() => [] as string[]);
  const stale = names.filter((name) => name.startsWith(TEMP_PREFIX));
  await Promise.all(stale.map((name) => unlink(join(directory, name)).catch(() => undefined)));
  return stale.length;
}
