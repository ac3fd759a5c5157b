import { stdin } from 'node:process';
import { UsageError } from './cli-errors.js';

/** Where the password comes from, in order: --password-stdin, METACHAT_PASSWORD, a hidden prompt. */
export interface PasswordSource {
  readonly fromStdin: boolean;
  readonly env: NodeJS.ProcessEnv;
  /** Asks on the terminal without echo; undefined when there is no terminal. */
  readonly prompt: ((question: string) => Promise<string>) | undefined;
}

async function firstLineOfStdin(): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    const end = text.indexOf('\n');
    if (end !== -1) return text.slice(0, end).replace(/\r$/, '');
    if (text.length > 8192) break;
  }
  return text.replace(/\r?\n?$/, '');
}

/** Gets the password once per process; at registration a prompt asks twice and compares. */
export async function readPassword(source: PasswordSource, confirm: boolean): Promise<string> {
  if (source.fromStdin) {
    const line = await firstLineOfStdin();
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
