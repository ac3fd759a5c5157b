import type { Readable } from 'node:stream';
import { UsageError } from '../cli-errors.js';

/**
 * Reads the first line of a stream (the password of `--password-stdin`), at most `max` bytes, and
 * puts back what came after it, so the JSON-RPC requests that follow on the same input are read
 * from their first byte.
 */
export function readFirstLine(input: Readable, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let held = 0;
    const finish = (error: Error | null, line?: string) => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
      if (error !== null) reject(error);
      else resolve((line ?? '').replace(/\r$/, ''));
    };
    const tooLong = () =>
      new UsageError(`The first line of standard input is over ${max} characters.`);
    const onReadable = () => {
      for (
        let chunk = input.read() as Buffer | null;
        chunk !== null;
        chunk = input.read() as Buffer | null
      ) {
        const newline = chunk.indexOf(0x0a);
        if (newline === -1) {
          held += chunk.length;
          if (held > max) {
            finish(tooLong());
            return;
          }
          parts.push(chunk);
          continue;
        }
        if (held + newline > max) {
          finish(tooLong());
          return;
        }
        parts.push(chunk.subarray(0, newline));
        const rest = chunk.subarray(newline + 1);
        if (rest.length > 0) input.unshift(rest);
        finish(null, Buffer.concat(parts).toString('utf8'));
        return;
      }
    };
    const onEnd = () => finish(null, Buffer.concat(parts).toString('utf8'));
    const onError = (error: Error) => finish(error);
    input.on('readable', onReadable);
    input.on('end', onEnd);
    input.on('error', onError);
  });
}
