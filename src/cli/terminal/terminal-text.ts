/**
 * The one gate between relay-controlled strings and a terminal. An allow-list, not a deny-list:
 * letters, marks, digits, punctuation, symbols and the space separators pass; a line feed passes
 * where the caller allows several lines; a zero-width joiner passes only between two pictographs (it
 * builds emoji sequences). Everything else (C0 and C1 controls, DEL, format characters such as bidi
 * marks, embeddings, overrides and isolates, U+061C, U+200B and the other zero-width ones, U+2028 and
 * U+2029, private-use, unassigned and lone surrogates) becomes a visible U+FFFD. Core already refuses
 * the worst of these in text bodies; this is the last line of defence for every string.
 */

/** What may reach a terminal as it is (besides the line feed and the joiner handled below). */
const ALLOWED = /[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]/u;
const PICTOGRAPH = /\p{Extended_Pictographic}/u;
const REPLACEMENT = '\ufffd';

/**
 * Replaces every character outside the allow-list with U+FFFD. A tab becomes two spaces; a line feed
 * (and a CR LF pair) stays only with `multiline` (the default), else it becomes a space.
 */
export function sanitizeForTerminal(text: string, multiline = true): string {
  const chars = Array.from(text.replace(/\r\n/g, '\n').replace(/\t/g, '  '));
  let out = '';
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index] ?? '';
    if (char === '\n') out += multiline ? '\n' : ' ';
    else if (ALLOWED.test(char)) out += char;
    else if (char === '\u200d' && joinsPictographs(chars, index)) out += char;
    else out += REPLACEMENT;
  }
  return out;
}

/** True when a zero-width joiner sits between two pictographs (a variation selector may come first). */
function joinsPictographs(chars: readonly string[], index: number): boolean {
  let before = index - 1;
  if (chars[before] === '\ufe0f') before--;
  return PICTOGRAPH.test(chars[before] ?? '') && PICTOGRAPH.test(chars[index + 1] ?? '');
}

/** Relay-supplied text for a one-line message on stderr: sanitized, and line breaks folded. */
export function oneLine(text: string): string {
  return sanitizeForTerminal(text, false).replace(/ {2,}/g, ' ');
}

/**
 * JSON for a terminal: the same value, but every character the allow-list refuses is written as a
 * `\uXXXX` escape, so a script reads exactly the data and a terminal showing it acts on nothing.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S} ]/gu, (char) =>
    Array.from(
      { length: char.length },
      (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`,
    ).join(''),
  );
}

/**
 * Prefix of every continuation line of a multi-line message in plain output: a peer's line feed can
 * never start a line that looks like another message (`[time] me: …`).
 */
export const CONTINUATION = '    | ';

/** A message's text for plain line-oriented output: sanitized, each line after the first prefixed. */
export function indentContinuation(text: string): string {
  return sanitizeForTerminal(text).split('\n').join(`\n${CONTINUATION}`);
}
