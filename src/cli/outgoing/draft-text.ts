import { MAX_TEXT_BYTES } from '../../core/index.js';

/** The most UTF-8 bytes a draft may hold: the core's text limit, so every draft can be sent. */
export const DRAFT_MAX_BYTES = MAX_TEXT_BYTES;

/**
 * What never enters a draft: C0 controls but newline (tab is turned into spaces first), DEL, C1
 * controls, bidirectional marks, embeddings, overrides and isolates, line and paragraph separators,
 * the byte-order mark, and lone surrogates (not valid Unicode). The core refuses most of these in
 * a message; the rest would disguise text on a terminal.
 */
const UNWANTED =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Text made fit for a draft: CR LF and CR become newlines, tabs spaces, controls removed (counted). */
export function cleanDraftText(text: string): { text: string; stripped: number } {
  let stripped = 0;
  const cleaned = text
    .replace(/\r\n?/g, '\n')
    .replace(/\t/g, '  ')
    .replace(UNWANTED, () => {
      stripped++;
      return '';
    });
  return { text: cleaned, stripped };
}

const encoder = new TextEncoder();

/** UTF-8 bytes of a draft (a cleaned draft holds no lone surrogate, so this is exact). */
export function draftBytes(text: string): number {
  return encoder.encode(text).length;
}

/** "15.2 KiB" style, for the budget line. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
