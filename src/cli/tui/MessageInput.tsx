import { Box, Text } from 'ink';
import { nextBoundary } from './graphemes.js';
import { sanitizeForTerminal } from '../terminal/terminal-text.js';
import { wrappedHeight } from './message-rows.js';
import { tint } from './palette.js';
import type { EditorState } from './use-line-editor.js';

/** The most rows the input takes; longer drafts scroll inside it. */
const MAX_ROWS = 6;

/** Rows the input will take at this width (the chat view sizes the message window with it). */
export function inputHeight(state: EditorState, width: number): number {
  const rows = state.text
    .split('\n')
    .reduce((sum, line) => sum + wrappedHeight(`${line} `, Math.max(1, width - 2)), 0);
  return Math.min(MAX_ROWS, Math.max(1, rows));
}

/** The message being written, with its cursor. */
export function MessageInput({
  state,
  width,
  placeholder,
  height: rows,
}: {
  state: EditorState;
  width: number;
  placeholder: string;
  /** Rows to take (the view may give fewer than the draft wants on a small terminal). */
  height?: number;
}) {
  const height = rows ?? inputHeight(state, width);
  if (state.text.length === 0) {
    return (
      <Box height={height} width={width} overflow="hidden" flexDirection="column">
        <Text wrap="truncate-end">
          <Text {...tint('cyan')}>{'> '}</Text>
          <Text inverse> </Text>
          <Text dimColor>{placeholder}</Text>
        </Text>
      </Box>
    );
  }
  const cursor = Math.min(state.cursor, state.text.length);
  const next = nextBoundary(state.text, cursor);
  const before = sanitizeForTerminal(state.text.slice(0, cursor));
  const at = next > cursor ? state.text.slice(cursor, next) : undefined;
  const after = sanitizeForTerminal(state.text.slice(next));
  const lines =
    `${before}\u0000${at === '\n' || at === undefined ? ' ' : sanitizeForTerminal(at)}\u0001${at === '\n' ? '\n' : ''}${after}`.split(
      '\n',
    );
  return (
    <Box
      height={height}
      width={width}
      flexDirection="column"
      justifyContent="flex-end"
      overflow="hidden"
    >
      {lines.map((line, index) => {
        const mark = line.indexOf('\u0000');
        const end = line.indexOf('\u0001');
        return (
          <Box key={index}>
            <Text {...tint('cyan')}>{index === 0 ? '> ' : '  '}</Text>
            <Box width={Math.max(1, width - 2)}>
              {mark < 0 ? (
                <Text wrap="wrap">{line}</Text>
              ) : (
                <Text wrap="wrap">
                  {line.slice(0, mark)}
                  <Text inverse>{line.slice(mark + 1, end)}</Text>
                  {line.slice(end + 1)}
                </Text>
              )}
            </Box>
          </Box>
        );
      })}
    </Box>
  );
}
