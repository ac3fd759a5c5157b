import { open } from 'node:fs/promises';

/** Fills whatever room is left on the filesystem with one file, until the kernel says ENOSPC. */
export async function fillDisk(path: string): Promise<void> {
  const handle = await open(path, 'w');
  try {
    for (const size of [1 << 20, 65_536, 4096, 1]) {
      for (let i = 0; i < 100_000; i++) {
        const ok = await handle.write(Buffer.alloc(size)).then(
          () => true,
          (error: unknown) => {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
            return false;
          },
        );
        if (!ok) break;
      }
    }
  } finally {
    await handle.close();
  }
}
