/** What a chunk of input yields: a complete line, one that is not UTF-8, or word that a line went over the limit. */
export type SplitEvent =
  | { readonly kind: 'line'; readonly text: string }
  | { readonly kind: 'not-utf8' }
  | { readonly kind: 'oversize'; readonly limit: number };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Cuts a byte stream into newline-delimited lines of at most `maxBytes` each, holding no more than
 * that: a longer line is reported (once, as soon as it goes over) and its remaining bytes are
 * skipped up to the next newline, never buffered. A trailing `\r` is dropped (CRLF input).
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private held = 0;
  private skipping = false;

  constructor(readonly maxBytes: number) {}

  /** Feeds one chunk; returns what it completed, in order. */
  push(chunk: Buffer): SplitEvent[] {
    const events: SplitEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!this.skipping) {
        const piece = chunk.subarray(start, end);
        if (this.held + piece.length > this.maxBytes) {
          this.parts = [];
          this.held = 0;
          this.skipping = true;
          events.push({ kind: 'oversize', limit: this.maxBytes });
        } else if (piece.length > 0) {
          // A copy: the caller's chunk may be reused, and a slice would pin all of it.
          this.parts.push(Buffer.from(piece));
          this.held += piece.length;
        }
      }
      if (newline === -1) break;
      if (this.skipping) this.skipping = false;
      else events.push(this.take());
      start = newline + 1;
    }
    return events;
  }

  /** What is left at the end of input: an unterminated last line counts as a line. */
  end(): SplitEvent[] {
    if (this.skipping || this.held === 0) {
      this.skipping = false;
      this.parts = [];
      this.held = 0;
      return [];
    }
    return [this.take()];
  }

  private take(): SplitEvent {
    const bytes = Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return { kind: 'not-utf8' };
    }
    return { kind: 'line', text: text.endsWith('\r') ? text.slice(0, -1) : text };
  }
}
