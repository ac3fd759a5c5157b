import { stdin } from 'node:process';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from '../cli-errors.js';

/** How much standard input one command reads at most: a password line and one message. */
const MAX_STDIN_BYTES = 1024 * 1024;

/**
 * Standard input, read once and shared, so that `--password-stdin` can take the first line and
 * `send <peer> -` the rest: each read continues where the last stopped (a `for await` that breaks
 * would destroy the stream and lose what was already buffered).
 */
export class StdinReader {
  private buffered = '';
  private ended = false;
  private total = 0;
  private readonly decoder = new StringDecoder('utf8');
  private iterator: AsyncIterator<Buffer | string> | undefined;

  constructor(private readonly input: NodeJS.ReadableStream = stdin) {}

  /** The next line without its line ending (or what is left if input ends first), at most `max` characters. */
  async line(max = MAX_STDIN_BYTES): Promise<string> {
    for (;;) {
      const end = this.buffered.indexOf('\n');
      if ((end === -1 ? this.buffered.length : end) > max)
        throw new UsageError(`The first line of standard input is over ${max} characters.`);
      if (end !== -1) {
        const line = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 1);
        return line.replace(/\r$/, '');
      }
      if (!(await this.more())) {
        const rest = this.buffered;
        this.buffered = '';
        return rest.replace(/\r$/, '');
      }
    }
  }

  /** Everything left until the end of input. */
  async rest(): Promise<string> {
    while (await this.more());
    const rest = this.buffered;
    this.buffered = '';
    return rest;
  }

  private async more(): Promise<boolean> {
    if (this.ended) return false;
    this.iterator ??= this.input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    const next = await this.iterator.next();
    if (next.done === true) {
      this.ended = true;
      this.buffered += this.decoder.end();
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.total += chunk.length;
    if (this.total > MAX_STDIN_BYTES) {
      throw new UsageError(
        `Standard input is over ${MAX_STDIN_BYTES / 1024} KiB: a message is at most 16 KiB.`,
      );
    }
    this.buffered += this.decoder.write(chunk);
    return true;
  }
}

/** The process's standard input, shared by the password and the message text. */
export const processStdin = new StdinReader();
