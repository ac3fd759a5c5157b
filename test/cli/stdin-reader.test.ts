import { describe, expect, it } from '@jest/globals';
import { Readable } from 'node:stream';
import { UsageError } from '../../src/cli/cli-errors.js';
import { StdinReader } from '../../src/cli/terminal/stdin-reader.js';

function reader(...chunks: (string | Buffer)[]): StdinReader {
  return new StdinReader(
    Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))),
  );
}

describe('StdinReader', () => {
  it('hands the first line to the password and the rest to the message, across chunk boundaries', async () => {
    const input = reader('pass', 'word\r\nline one\nli', 'ne two\n');
    expect(await input.line()).toBe('password');
    expect(await input.rest()).toBe('line one\nline two\n');
    expect(await input.rest()).toBe('');
  });

  it('keeps a character split between two chunks whole', async () => {
    const bytes = Buffer.from('pw\nhé');
    const input = reader(bytes.subarray(0, 5), bytes.subarray(5));
    expect(await input.line()).toBe('pw');
    expect(await input.rest()).toBe('hé');
  });

  it('returns what is left as the last line when input ends without a newline', async () => {
    const input = reader('only a password');
    expect(await input.line()).toBe('only a password');
    expect(await input.line()).toBe('');
  });

  it('refuses more than a megabyte of input with a usage error', async () => {
    const input = reader(...Array.from({ length: 5 }, () => Buffer.alloc(300 * 1024, 0x61)));
    await expect(input.rest()).rejects.toThrow(UsageError);
  });

  it('refuses a first line longer than asked for with a usage error', async () => {
    const input = reader('x'.repeat(9000), '\nrest');
    await expect(input.line(8192)).rejects.toThrow(/over 8192 characters/);
  });
});
