import { Box, Text } from 'ink';
import type { ChatRow } from './message-rows.js';

function statusColor(status: string | undefined): string {
  if (status === 'failed') return 'red';
  if (status === 'delivered') return 'green';
  if (status === 'sending') return 'yellow';
  return 'gray';
}

function Row({ row, prefix, width }: { row: ChatRow; prefix: number; width: number }) {
  if (row.kind === 'day') {
    const label = ` ${row.label} `;
    const side = Math.max(2, Math.floor((width - label.length) / 2));
    return (
      <Text dimColor wrap="truncate-end">
        {'─'.repeat(side)}
        {label}
        {'─'.repeat(side)}
      </Text>
    );
  }
  if (row.kind === 'warning') {
    return (
      <Box>
        <Box width={6} flexShrink={0}>
          <Text dimColor>{row.time}</Text>
        </Box>
        <Box width={Math.max(8, width - 6)}>
          <Text color="red" wrap="wrap">
            {row.body}
          </Text>
        </Box>
      </Box>
    );
  }
  return (
    <Box>
      <Box width={prefix} flexShrink={0}>
        <Text>
          <Text dimColor>{row.time} </Text>
          <Text bold color={row.mine ? 'cyan' : 'magenta'}>
            {row.name}
          </Text>
        </Text>
      </Box>
      <Box width={Math.max(8, width - prefix)}>
        <Text wrap="wrap">
          {row.body}
          <Text color={statusColor(row.status)}>{row.suffix}</Text>
        </Text>
      </Box>
    </Box>
  );
}

/**
 * The windowed conversation: only the rows that fit are rendered, bottom-aligned, so a long history
 * costs nothing per keystroke and nothing flickers; a line at the top says what is above.
 */
export function MessageList({
  rows,
  prefix,
  width,
  height,
  top,
}: {
  rows: readonly ChatRow[];
  prefix: number;
  width: number;
  height: number;
  top: { text: string; color: string } | null;
}) {
  return (
    <Box height={height} flexDirection="column" justifyContent="flex-end" overflow="hidden">
      {top ? (
        <Text color={top.color} dimColor wrap="truncate-end">
          {top.text}
        </Text>
      ) : null}
      {rows.map((row) => (
        <Row key={row.key} row={row} prefix={prefix} width={width} />
      ))}
    </Box>
  );
}
