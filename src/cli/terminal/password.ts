import { UsageError } from '../cli-errors.js';
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

/**
 * Gets the password; at registration a prompt asks twice and compares. `check` (the length rule at
 * registration) runs on the first answer, so a password that cannot be used is refused before the
 * second prompt.
 */
export async function readPassword(
  source: PasswordSource,
  confirm: boolean,
  check: (password: string) => void = () => undefined,
): Promise<string> {
  if (source.fromStdin) {
    const line = await (source.stdin ?? processStdin).line(MAX_PASSWORD_LINE);
    if (line.length === 0)
      throw new UsageError(
        '--password-stdin was given, but the first line of standard input is empty: it must hold the password.',
      );
    check(line);
    return line;
  }
  const fromEnv = source.env['METACHAT_PASSWORD'];
  if (fromEnv !== undefined && fromEnv.length > 0) {
    check(fromEnv);
    return fromEnv;
  }
  if (!source.prompt) {
    throw new UsageError(
      'No password: pass --password-stdin (or set METACHAT_PASSWORD), or run on a terminal to be asked.',
    );
  }
  const password = await source.prompt('Password: ');
  if (password.length === 0) throw new UsageError('The password is empty.');
  check(password);
  if (confirm && (await source.prompt('Password again: ')) !== password) {
    throw new UsageError('The two passwords differ.');
  }
  return password;
}
