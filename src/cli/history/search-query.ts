// What the user typed after `metachat search`, made into an FTS5 query that can only match words.

import { UsageError } from '../cli-errors.js';

/** Most characters of a search, before anything else is looked at. */
export const MAX_SEARCH_CHARACTERS = 512;
/** Most words in one search: each is one more index lookup. */
export const MAX_SEARCH_WORDS = 16;

/** A search that is too long to run (code SEARCH_TOO_LONG): shorten it. */
export class SearchTooLongError extends Error {
  override readonly name = 'SearchTooLongError';
  readonly code = 'SEARCH_TOO_LONG';
}

// Bidi controls, zero-width characters and other format characters: invisible, never a word's part.
const INVISIBLE = /[\p{Cf}\p{Cc}]/gu;

/**
 * The words of a search, each quoted as an FTS5 string ("" inside), joined by spaces (all must
 * occur). A quoted string is never an operator, column filter or prefix, so no input reaches the
 * FTS5 syntax: `NEAR(`, `*`, `"`, `AND`, `col:` are searched as the words they contain.
 */
export function ftsQuery(input: string): string {
  if (input.length > MAX_SEARCH_CHARACTERS)
    throw new SearchTooLongError(
      `A search is at most ${MAX_SEARCH_CHARACTERS} characters; this one has ${input.length}.`,
    );
  // Split first: tab, newline and the other whitespace controls are also \p{Cc}, and stripping
  // them before the split would join `foo\tbar` into one word.
  const words = input
    .normalize('NFKC')
    .split(/\s+/u)
    .map((word) => word.replace(INVISIBLE, ''))
    .filter((word) => word.length > 0);
  if (words.length === 0) throw new UsageError('Nothing to search for: give at least one word.');
  if (words.length > MAX_SEARCH_WORDS)
    throw new SearchTooLongError(
      `A search has at most ${MAX_SEARCH_WORDS} words; this one has ${words.length}.`,
    );
  return words.map((word) => `"${word.replaceAll('"', '""')}"`).join(' ');
}
