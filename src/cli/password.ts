import { UsageError } from './cli-errors.js';
import { processStdin, type StdinReader } from './stdin-reader.js';

/** A password line longer than this is a mistake (a file piped in whole), not a password. */
const MAX_PASSWORD_LINE = 8192;

/** Where the password comes from, in order: --password-stdin, METACHAT_PASSWORD, a hidden prompt. */
export interface PasswordSource {
  readonly fromStdin: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Asks on the terminal without echo; undefined when there is no terminal. */
  readonly prompt: ((question: string) => Promise<string>) | undefined;
  /** Standard input, shared with `send <peer> -` (the process's by default). */
  readonly stdin?: StdinReader;
}

/** Gets the password once per process; at registration a prompt asks twice and compares. */
export async function readPassword(source: PasswordSource, confirm: boolean): Promise<string> {
  if (source.fromStdin) {
    const line = await (source.stdin ?? processStdin).line(MAX_PASSWORD_LINE);
    if (line.length === 0)
      throw new UsageError('--password-stdin was given, but standard input had no password line.');
    return line;
  }
  const fromEnv = source.env['METACHAT_PASSWORD'];
  if (fromEnv !== undefined && fromEnv.length > 0) return fromEnv;
  if (!source.prompt) {
    throw new UsageError(
      'No password: pass --password-stdin (or set METACHAT_PASSWORD), or run on a terminal to be asked.',
    );
  }
  const password = await source.prompt('Password: ');
  if (confirm && (await source.prompt('Password again: ')) !== password) {
    throw new UsageError('The two passwords differ.');
  }
  return password;
}
