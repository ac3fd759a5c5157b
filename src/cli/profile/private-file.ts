import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Writes one file of the local profile directory atomically and privately: a 0700 directory, a 0600
 * temp file, fsync, rename. A crash leaves either the old file or the new one, never half of one.
 */
export async function writePrivateFile(home: string, name: string, text: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 });
  await chmod(home, 0o700);
  const temp = join(home, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(home, name));
}
