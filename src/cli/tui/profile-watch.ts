import { stat } from 'node:fs/promises';
import { join } from 'node:path';

/** How often the chat screen looks at profile.json for another terminal's changes. */
const POLL_MS = 500;

/** What the watcher reports: the profile changed on disk (not by us), or it is gone (a logout). */
export interface ProfileWatchEvents {
  readonly onChange: () => void;
  readonly onGone: () => void;
}

/**
 * Notices, within half a second, what another terminal did to this profile (`alias`, `settings`,
 * `verify --trust`, `logout`). It polls the file's change time and size (a rename over the file,
 * as every save does, defeats fs.watch); the screen's own saves are recorded so they are not news.
 */
export class ProfileWatch {
  private timer: NodeJS.Timeout | undefined;
  private seen = '';
  private checking = false;
  private gone = false;
  private writing = 0;

  constructor(
    private readonly home: string,
    private readonly events: ProfileWatchEvents,
  ) {}

  /** Starts polling, taking the file as it is now as known. */
  async start(): Promise<void> {
    this.seen = await this.version();
    this.timer = setInterval(() => void this.check(), POLL_MS);
    this.timer.unref();
  }

  /** Before a save of ours: what changes meanwhile is ours (the save merges in any other). */
  beginWrite(): void {
    this.writing++;
  }

  /** After a save of ours (done or failed): the file as it is now is known. */
  async endWrite(): Promise<void> {
    try {
      this.seen = await this.version();
    } finally {
      this.writing--;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private running(): boolean {
    return this.timer !== undefined;
  }

  private async version(): Promise<string> {
    try {
      const info = await stat(join(this.home, 'profile.json'));
      return `${String(info.mtimeMs)}:${String(info.size)}:${String(info.ino)}`;
    } catch {
      return 'gone';
    }
  }

  private async check(): Promise<void> {
    if (this.checking || this.gone || this.writing > 0 || !this.running()) return;
    this.checking = true;
    try {
      const now = await this.version();
      if (now === this.seen || !this.running()) return;
      this.seen = now;
      if (now === 'gone') {
        this.gone = true;
        this.events.onGone();
      } else this.events.onChange();
    } finally {
      this.checking = false;
    }
  }
}
