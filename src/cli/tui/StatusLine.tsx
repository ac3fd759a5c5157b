import { Box, Text } from 'ink';
import type { ChatSnapshot } from './chat-state.js';
import { sanitizeForTerminal } from '../terminal-text.js';

/** The bottom line: the latest notice (red for errors), else the keys that work here. */
export function StatusLine({
  notice,
  hint,
  width,
}: {
  notice: ChatSnapshot['notice'];
  hint: string;
  width: number;
}) {
  return (
    <Box width={width} height={1} overflow="hidden">
      {notice ? (
        <Text color={notice.tone === 'error' ? 'red' : 'green'} wrap="truncate-end">
          {sanitizeForTerminal(notice.text)}
        </Text>
      ) : (
        <Text dimColor wrap="truncate-end">
          {hint}
        </Text>
      )}
    </Box>
  );
}
