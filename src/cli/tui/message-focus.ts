// One message the conversation opened at (a search result): scrolled into the middle, highlighted.

import type { ChatLine, ScrollAnchor } from './message-rows.js';

/**
 * Where to scroll so the lines of message `row` sit in the middle of a list `height` rows high
 * (at the bottom when it is among the newest: `anchor` null follows the newest), or undefined while
 * the message is not among the lines yet.
 */
export function anchorAt(
  lines: readonly ChatLine[],
  row: string,
  height: number,
): { anchor: ScrollAnchor | null } | undefined {
  const first = lines.findIndex((line) => line.row === row);
  if (first < 0) return undefined;
  let last = first;
  while (lines[last + 1]?.row === row) last++;
  const below = Math.max(0, Math.floor((height - (last - first + 1)) / 2));
  const bottom = Math.min(lines.length, last + 1 + below);
  if (bottom >= lines.length) return { anchor: null };
  const line = lines[bottom - 1];
  return { anchor: line === undefined ? null : { row: line.row, index: line.index } };
}

/** The lines with those of message `row` drawn inverse, so the eye finds it. */
export function highlighted(lines: readonly ChatLine[], row: string | undefined): ChatLine[] {
  return lines.map((line) =>
    line.row !== row
      ? line
      : { ...line, spans: line.spans.map((span) => ({ ...span, inverse: true })) },
  );
}
