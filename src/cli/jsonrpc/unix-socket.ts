import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { UsageError } from '../cli-errors.js';

/** Whether something accepts connections on the socket at `path` (a live `jsonrpc`, or another program). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Refuses a --socket path that exists and is not a stale socket (checked before the password is
 * asked; `listenUnixSocket` checks again): a file, a directory, or a socket someone listens on.
 */
export async function checkSocketPath(path: string): Promise<void> {
  const existing = await lstat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing === undefined) return;
  if (!existing.isSocket())
    throw new UsageError(
      `--socket ${path}: the path exists and is not a socket; not replacing it.`,
    );
  if (await answers(path))
    throw new UsageError(`--socket ${path}: another process listens on it already.`);
}

/**
 * Listens on a new Unix socket at `path`, readable and writable by this user only (created under a
 * 0177 umask, then chmod 0600 again). A path that exists is refused unless it is a socket nobody
 * listens on any more (left by a process that died), which is replaced.
 */
export async function listenUnixSocket(path: string): Promise<Server> {
  const existing = await lstat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing !== undefined) {
    if (!existing.isSocket())
      throw new UsageError(
        `--socket ${path}: the path exists and is not a socket; not replacing it.`,
      );
    if (await answers(path))
      throw new UsageError(`--socket ${path}: another process listens on it already.`);
    await unlink(path);
  }
  const server = createServer({ pauseOnConnect: true });
  const mask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(mask);
  }
  await chmod(path, 0o600);
  return server;
}
