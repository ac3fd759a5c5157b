import { Box, Text } from 'ink';
import type { ChatSnapshot } from './chat-state.js';
import { oneLine } from '../terminal/terminal-text.js';
import { tint } from './palette.js';

/**
 * The bottom line: the latest notice (red for errors), else the keys that work here; `lead` (the
 * draft's share of the message limit, near it) comes first either way.
 */
export function StatusLine({
  notice,
  hint,
  width,
  lead,
}: {
  notice: ChatSnapshot['notice'];
  hint: string;
  width: number;
  lead?: string | undefined;
}) {
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        {lead === undefined ? null : <Text {...tint('yellow')}>{lead}</Text>}
        {notice ? (
          <Text {...tint(notice.tone === 'error' ? 'red' : 'green')}>{oneLine(notice.text)}</Text>
        ) : (
          <Text dimColor>{hint}</Text>
        )}
      </Text>
    </Box>
  );
}
