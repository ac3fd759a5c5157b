import { Box, Text } from 'ink';
import { oneLine } from '../terminal/terminal-text.js';
import type { GroupSummary } from './group-state.js';
import { fitWidth } from './message-rows.js';
import { tint } from './palette.js';
import { shortWhen } from './status-text.js';

/**
 * A group in the inbox: `# name`, unread count, time, and the last message with its sender's name;
 * a member whose key changed (they block sending) and refused messages are flagged in red.
 */
export function GroupInboxEntry({
  entry,
  selected,
  width,
}: {
  entry: GroupSummary;
  selected: boolean;
  width: number;
}) {
  const nameWidth = Math.max(6, Math.min(24, width - 26));
  const last =
    entry.last === null ? '' : `${oneLine(entry.last.sender)}: ${oneLine(entry.last.text)}`;
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Text {...tint('cyan')}>{selected ? '› ' : '  '}</Text>
        <Text {...tint('blue')}># </Text>
        <Text bold={entry.unread > 0} inverse={selected}>
          {fitWidth(oneLine(entry.name), nameWidth).padEnd(nameWidth)}
        </Text>
        <Text {...tint('yellow')}>
          {(entry.unread > 0 ? ` (${String(entry.unread)} new)` : '').padEnd(10)}
        </Text>
        <Text dimColor> {shortWhen(entry.lastActivity)}</Text>
        {entry.changed.length > 0 ? (
          <Text {...tint('red')}> · KEY CHANGED: {entry.changed.map(oneLine).join(', ')}</Text>
        ) : null}
        {entry.rejected > 0 ? <Text {...tint('red')}> · ⚠ {entry.rejected} refused</Text> : null}
        {last === '' ? null : <Text dimColor> · {last}</Text>}
      </Text>
    </Box>
  );
}
