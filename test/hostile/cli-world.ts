import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli, type CliResult } from '../support/cli-process.js';
import { startTestRelay, tempDir, type TestRelay } from '../support/relay-harness.js';
import { startHostileRelay, type HostileRelay } from './hostile-relay.js';

/** The password of every account the hostile CLI suites register. */
export const HOSTILE_CLI_PASSWORD = 'correct horse battery staple';

/** The JSON lines a `--json` command printed, one object each. */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * A real relay behind a hostile one, and the real CLI run as child processes against the hostile
 * one, each user with a home of their own: what every hostile CLI suite sets up first.
 */
export class HostileCliWorld {
  /** Each registered user's identifier and key fingerprint, by name. */
  readonly ids: Record<string, string> = {};
  readonly fingerprints: Record<string, string> = {};

  private constructor(
    readonly real: TestRelay,
    readonly hostile: HostileRelay,
    readonly root: string,
  ) {}

  /** Starts both relays and a temp directory for the homes (named with `prefix`). */
  static async start(prefix: string): Promise<HostileCliWorld> {
    const real = await startTestRelay();
    const hostile = await startHostileRelay(real.url);
    return new HostileCliWorld(real, hostile, await tempDir(prefix));
  }

  /** The user's home directory (their profile lives there). */
  home(name: string): string {
    return join(this.root, name);
  }

  /** Runs `metachat <args>` as the user, against the hostile relay, the password on stdin. */
  cli(name: string, args: string[]): Promise<CliResult> {
    return runCli(
      [...args, '--home', this.home(name), '--server', this.hostile.url, '--password-stdin'],
      { input: `${HOSTILE_CLI_PASSWORD}\n` },
    );
  }

  /** Registers the user through the CLI and remembers their identifier and fingerprint. */
  async register(name: string, extra: string[] = []): Promise<CliResult> {
    const result = await this.cli(name, ['register', name, '--json', ...extra]);
    if (result.code !== 0) throw new Error(`register ${name} failed: ${result.stderr}`);
    const [out] = jsonLines(result.stdout);
    this.ids[name] = String(out?.['id']);
    this.fingerprints[name] = String(out?.['fingerprint']);
    return result;
  }

  /** A registered user's identifier; throws for a name never registered. */
  id(name: string): string {
    const value = this.ids[name];
    if (value === undefined) throw new Error(`${name} not registered`);
    return value;
  }

  /** The user's saved profile.json, as the shape the caller reads of it. */
  async profile<T>(name: string): Promise<T> {
    return JSON.parse(await readFile(join(this.home(name), 'profile.json'), 'utf8')) as T;
  }

  /** Stops both relays and removes the homes. */
  async stop(): Promise<void> {
    await this.hostile.close();
    await this.real.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}
