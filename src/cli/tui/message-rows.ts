import stringWidth from 'string-width';
import wrapAnsi from 'wrap-ansi';
import type { ChatMessage } from './chat-state.js';
import type { ShownMessage, ShownQuote } from './chat-fold.js';
import { clockTime, dayLabel } from '../terminal/local-time.js';
import { sanitizeForTerminal } from '../terminal/terminal-text.js';

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
      /** Deleted by its sender: the body says so, dimmed. */
      readonly deleted: boolean;
      /** A reply's line about what it quotes, drawn above its text. */
      readonly quote?: string;
      readonly height: number;
    }
  | {
      readonly kind: 'warning';
      readonly key: string;
      readonly time: string;
      readonly body: string;
      readonly height: number;
    }
  | {
      readonly kind: 'info';
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
 * each message with its time, sender and state, each warning on its own red row (a group's membership change on a yellow one), with the height
 * every block will take once wrapped (the windowed view needs it to show exactly what fits).
 */
export function layoutRows(
  messages: readonly ShownMessage[],
  names: { readonly mine: string; readonly theirs: string },
  width: number,
): { rows: ChatRow[]; prefix: number } {
  const senders = messages.flatMap((message) =>
    message.sender === undefined ? [] : [message.sender],
  );
  const prefix = prefixWidth([names.mine, names.theirs, ...senders]);
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
    if (message.info !== undefined) {
      const body = `· ${sanitizeForTerminal(message.info)}`;
      rows.push({
        kind: 'info',
        key: message.id,
        time,
        body,
        height: wrappedHeight(body, Math.max(8, width - 6)),
      });
      continue;
    }
    const mine = message.direction === 'outgoing';
    const deleted = message.deleted === true;
    const body = deleted ? 'message deleted' : sanitizeForTerminal(message.text ?? '');
    const edited = message.edited === true && !deleted ? ' (edited)' : '';
    const suffix = `${edited}${mine ? statusMark(message) : ''}`;
    const quote = quoteLine(message.quote, names);
    rows.push({
      kind: 'message',
      key: message.id,
      time,
      name: fitWidth(mine ? names.mine : (message.sender ?? names.theirs), column),
      mine,
      body,
      status: message.status,
      suffix,
      deleted,
      ...(quote === undefined ? {} : { quote }),
      height:
        wrappedHeight(`${body}${suffix}`, bodyWidth) +
        (quote === undefined ? 0 : wrappedHeight(quote, bodyWidth)),
    });
  }
  return { rows, prefix };
}

/** The line above a reply: whose message it quotes and an excerpt, or that it is gone or not here. */
export function quoteLine(
  quote: ShownQuote | undefined,
  names: { readonly mine: string; readonly theirs: string },
): string | undefined {
  if (quote === undefined) return undefined;
  if (quote.state === 'deleted') return '↪ a deleted message';
  if (quote.state === 'missing') return '↪ a message not loaded here';
  const who = quote.mine ? names.mine : names.theirs;
  return `↪ ${sanitizeForTerminal(who, false)}: ${sanitizeForTerminal(quote.excerpt, false)}`;
}

/** A run of text on one screen line, with how it is drawn. */
export interface Span {
  readonly text: string;
  readonly color?: string;
  readonly bold?: boolean;
  readonly dim?: boolean;
  /** Drawn inverse: the message a search result opened the conversation at. */
  readonly inverse?: boolean;
}

/** One screen line of the conversation, already wrapped to fit: the list draws exactly these. */
export interface ChatLine {
  /** The block it belongs to (its row key) and its place in it. */
  readonly row: string;
  readonly index: number;
  readonly spans: readonly Span[];
}

function statusColor(status: string | undefined): string {
  if (status === 'failed') return 'red';
  if (status === 'delivered') return 'green';
  if (status === 'sending') return 'yellow';
  return 'gray';
}

/** Text wrapped at `width` columns, as lines (hard-wrapping words longer than a line). */
export function wrapLines(text: string, width: number): string[] {
  return wrapAnsi(text, Math.max(1, width), { hard: true, trim: false }).split('\n');
}

/**
 * The rows as screen lines for a terminal `width` wide: each message's first line carries its time
 * and sender, the lines it wraps onto start at the same column, and my message's state follows its
 * text (on a line of its own when it does not fit). Every line is at most `width` columns.
 */
export function rowLines(rows: readonly ChatRow[], prefix: number, width: number): ChatLine[] {
  const lines: ChatLine[] = [];
  const bodyWidth = Math.max(8, width - prefix);
  for (const row of rows) {
    if (row.kind === 'day') {
      const label = ` ${row.label} `;
      const side = Math.max(2, Math.floor((width - stringWidth(label)) / 2));
      const text = fitWidth(`${'─'.repeat(side)}${label}${'─'.repeat(side)}`, width);
      lines.push({ row: row.key, index: 0, spans: [{ text, dim: true }] });
      continue;
    }
    if (row.kind === 'warning' || row.kind === 'info') {
      const color = row.kind === 'warning' ? 'red' : 'yellow';
      const body = wrapLines(row.body, Math.max(8, width - 6));
      body.forEach((text, index) => {
        const head = index === 0 ? row.time.padEnd(6) : ' '.repeat(6);
        lines.push({
          row: row.key,
          index,
          spans: [
            { text: head, dim: true },
            { text, color },
          ],
        });
      });
      continue;
    }
    const body = wrapLines(row.body, bodyWidth);
    const suffix = row.suffix === '' ? [] : wrapLines(row.suffix.trimStart(), bodyWidth);
    const last = body.at(-1) ?? '';
    const joined = suffix.length === 1 && stringWidth(last) + stringWidth(row.suffix) <= bodyWidth;
    const color = statusColor(row.status);
    const texts: Span[][] = [
      ...(row.quote === undefined ? [] : wrapLines(row.quote, bodyWidth)).map((text) => [
        { text, dim: true, color: 'gray' },
      ]),
      ...body.map((text) => [row.deleted ? { text, dim: true } : { text }]),
    ];
    if (joined) texts[texts.length - 1]?.push({ text: row.suffix, color });
    else for (const text of suffix) texts.push([{ text, color }]);
    texts.forEach((spans, index) => {
      const head: Span[] =
        index === 0
          ? [
              { text: `${row.time} `, dim: true },
              {
                text: row.name + ' '.repeat(Math.max(0, prefix - 6 - stringWidth(row.name))),
                bold: true,
                color: row.mine ? 'cyan' : 'magenta',
              },
            ]
          : [{ text: ' '.repeat(prefix) }];
      lines.push({ row: row.key, index, spans: [...head, ...spans] });
    });
  }
  return lines;
}

/** Where the list is scrolled to: the last line shown, or null to follow the newest message. */
export interface ScrollAnchor {
  readonly row: string;
  readonly index: number;
}

/** The index just past the bottom line shown. */
export function bottomLine(lines: readonly ChatLine[], anchor: ScrollAnchor | null): number {
  if (anchor === null) return lines.length;
  let found = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line?.row !== anchor.row) continue;
    found = i;
    if (line.index >= anchor.index) break;
  }
  return found < 0 ? lines.length : found + 1;
}

/**
 * The lines shown in `height` rows with the bottom one just before `bottom`, and whether the first
 * line is among them (then one row goes to the line that says what is above).
 */
export function windowLines(
  lines: readonly ChatLine[],
  height: number,
  bottom: number,
): { shown: ChatLine[]; atTop: boolean } {
  const end = Math.min(lines.length, Math.max(0, bottom));
  if (end <= height - 1) return { shown: lines.slice(0, end), atTop: true };
  return { shown: lines.slice(end - height, end), atTop: false };
}

/** The anchor `by` lines up (negative: down) from `bottom`; null once back at the newest line. */
export function scrolled(
  lines: readonly ChatLine[],
  height: number,
  bottom: number,
  by: number,
): ScrollAnchor | null {
  const lowest = Math.min(lines.length, Math.max(1, height - 1));
  const next = Math.max(lowest, Math.min(lines.length, bottom - by));
  if (next >= lines.length) return null;
  const line = lines[next - 1];
  return line === undefined ? null : { row: line.row, index: line.index };
}
