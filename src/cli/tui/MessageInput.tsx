import { Box, Text } from 'ink';
import { graphemes } from './graphemes.js';
import { sanitizeForTerminal } from '../terminal-text.js';
import { wrappedHeight } from './message-rows.js';
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
}: {
  state: EditorState;
  width: number;
  placeholder: string;
}) {
  const height = inputHeight(state, width);
  if (state.text.length === 0) {
    return (
      <Box height={1}>
        <Text color="cyan">{'> '}</Text>
        <Text inverse> </Text>
        <Text dimColor>{placeholder}</Text>
      </Box>
    );
  }
  const chars = graphemes(state.text);
  const before = sanitizeForTerminal(chars.slice(0, state.cursor).join(''));
  const at = chars[state.cursor];
  const after = sanitizeForTerminal(chars.slice(state.cursor + 1).join(''));
  const lines =
    `${before}\u0000${at === '\n' || at === undefined ? ' ' : sanitizeForTerminal(at)}\u0001${at === '\n' ? '\n' : ''}${after}`.split(
      '\n',
    );
  return (
    <Box height={height} flexDirection="column" justifyContent="flex-end" overflow="hidden">
      {lines.map((line, index) => {
        const mark = line.indexOf('\u0000');
        const end = line.indexOf('\u0001');
        return (
          <Box key={index}>
            <Text color="cyan">{index === 0 ? '> ' : '  '}</Text>
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
