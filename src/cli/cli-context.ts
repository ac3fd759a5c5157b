// What the commands share with the program that runs them, in a file of its own so commands and
// main.ts never import each other.

/** Options every command accepts, before or after its name. */
export interface GlobalOptions {
  server?: string;
  home?: string;
  json?: boolean;
  passwordStdin?: boolean;
}

/** What each command needs from the process, so tests can run it for real as a child process. */
export interface CliContext {
  readonly options: () => GlobalOptions;
  readonly home: () => string;
  /** The relay named by --server or METACHAT_SERVER (checked to be a URL), if any. */
  readonly server: () => string | undefined;
  /** That relay, else the default one (for a new profile). */
  readonly serverOrDefault: () => string;
  /** The password, asked once per process; `check` runs on it before a confirmation prompt. */
  readonly password: (confirm: boolean, check?: (password: string) => void) => Promise<string>;
  /** Forgets the password read, so the next `password()` asks again (a wrong one typed at a prompt). */
  readonly forgetPassword: () => void;
  /** Whether the password comes from a prompt on the terminal, so asking again makes sense. */
  readonly promptsForPassword: () => boolean;
  readonly print: (human: string, json: unknown) => void;
}
