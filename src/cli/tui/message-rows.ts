import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';
import type { ChatMessage } from './chat-state.js';
import { clockTime, dayLabel } from '../local-time.js';
import { sanitizeForTerminal } from '../terminal-text.js';

/** Widest a sender name column gets; longer names are cut with an ellipsis. */
const NAME_COLUMN_MAX = 16;

/** One block of the conversation view: a day separator, a message or a warning, with its height. */
export type ChatRow =
  | { readonly kind: 'day'; readonly key: string; readonly label: string; readonly height: 1 }
  | {
      readonly kind: 'message';
      readonly key: string;
      readonly time: string;
      readonly name: string;
      readonly mine: boolean;
      readonly body: string;
      readonly status: ChatMessage['status'];
      /** The state mark after my message (and, for a failed one, why and how to retry). */
      readonly suffix: string;
      readonly height: number;
    }
  | {
      readonly kind: 'warning';
      readonly key: string;
      readonly time: string;
      readonly body: string;
      readonly height: number;
    };

function dayKey(time: number): string {
  const date = new Date(time);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/** Cuts a string to a display width, ending with an ellipsis when cut. */
export function fitWidth(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  let out = '';
  for (const char of text) {
    if (stringWidth(`${out}${char}…`) > width) break;
    out += char;
  }
  return `${out}…`;
}

/** The suffix of my message that tells its state. */
export function statusMark(message: Pick<ChatMessage, 'status' | 'failure'>): string {
  switch (message.status) {
    case 'sending':
      return ' ⧗ sending';
    case 'sent':
      return ' ✓';
    case 'delivered':
      return ' ✓✓';
    case 'failed':
      return ` ✗ failed${message.failure === undefined ? '' : `: ${sanitizeForTerminal(message.failure)}`} (Ctrl+R retries)`;
    default:
      return '';
  }
}

/** Lines a text takes when Ink wraps it at `width` (Ink wraps with the same library and options). */
export function wrappedHeight(text: string, width: number): number {
  return wrapAnsi(text, Math.max(1, width), { hard: true, trim: false }).split('\n').length;
}

/** The width of the time-and-name column, so bodies line up. */
export function prefixWidth(names: readonly string[]): number {
  const widest = Math.max(2, ...names.map((name) => stringWidth(name)));
  return 6 + Math.min(NAME_COLUMN_MAX, widest) + 2;
}

/**
 * Lays a conversation out for a terminal `width` columns wide: a separator at each new local day,
 * each message with its time, sender and state, each warning on its own red row, with the height
 * every block will take once wrapped (the windowed view needs it to show exactly what fits).
 */
export function layoutRows(
  messages: readonly ChatMessage[],
  names: { readonly mine: string; readonly theirs: string },
  width: number,
): { rows: ChatRow[]; prefix: number } {
  const prefix = prefixWidth([names.mine, names.theirs]);
  const column = prefix - 8;
  const bodyWidth = Math.max(8, width - prefix);
  const rows: ChatRow[] = [];
  let lastDay = '';
  for (const message of messages) {
    const day = dayKey(message.time);
    if (day !== lastDay) {
      rows.push({
        kind: 'day',
        key: `day-${day}-${message.id}`,
        label: dayLabel(message.time),
        height: 1,
      });
      lastDay = day;
    }
    const time = clockTime(message.time);
    if (message.warning !== undefined) {
      const body = `⚠ ${sanitizeForTerminal(message.warning)}`;
      rows.push({
        kind: 'warning',
        key: message.id,
        time,
        body,
        height: wrappedHeight(body, Math.max(8, width - 6)),
      });
      continue;
    }
    const mine = message.direction === 'outgoing';
    const body = sanitizeForTerminal(message.text ?? '');
    const suffix = mine ? statusMark(message) : '';
    rows.push({
      kind: 'message',
      key: message.id,
      time,
      name: fitWidth(mine ? names.mine : names.theirs, column),
      mine,
      body,
      status: message.status,
      suffix,
      height: wrappedHeight(`${body}${suffix}`, bodyWidth),
    });
  }
  return { rows, prefix };
}

/**
 * The rows that fit in `height` lines when `offset` rows (whole blocks) are scrolled off the bottom:
 * the view renders only these, so a long history costs nothing per keystroke.
 */
export function visibleRows(
  rows: readonly ChatRow[],
  height: number,
  offset: number,
): { shown: ChatRow[]; atTop: boolean } {
  const end = Math.max(0, rows.length - offset);
  const shown: ChatRow[] = [];
  let used = 0;
  let index = end - 1;
  for (; index >= 0 && used < height; index--) {
    const row = rows[index];
    if (!row) break;
    shown.unshift(row);
    used += row.height;
  }
  return { shown, atTop: index < 0 };
}
