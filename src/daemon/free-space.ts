import { statfs } from 'node:fs/promises';

/** How long a statfs result is trusted; meanwhile the relay's own writes are subtracted from it. */
const REFRESH_MS = 1000;

/**
 * Free space of the filesystem that holds the data directory, for the free-space floor. One
 * statfs a second at most: between two, what the relay wrote itself is subtracted, so a flood
 * cannot outrun the floor.
 */
export class FreeSpace {
  private known = 0;
  private at = Number.NEGATIVE_INFINITY;
  private writtenSince = 0;

  constructor(private readonly directory: string) {}

  /** Bytes available to an unprivileged writer, as of now (at most a second old, never optimistic about own writes). */
  async available(): Promise<number> {
    if (Date.now() - this.at >= REFRESH_MS) {
      const stats = await statfs(this.directory);
      this.known = stats.bavail * stats.bsize;
      this.at = Date.now();
      this.writtenSince = 0;
    }
    return this.known - this.writtenSince;
  }

  /** Records bytes the relay just wrote, until the next statfs sees them. */
  wrote(bytes: number): void {
    this.writtenSince += bytes;
  }
}
