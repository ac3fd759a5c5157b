import { Box, Text } from 'ink';
import type { ConnectionState, ConversationSummary } from './chat-state.js';
import { fitWidth } from './message-rows.js';
import { describeConnection, describePresence, describeTrust } from './status-text.js';

/** The top line of a conversation: who, their presence, my connection, and how far their key is trusted. */
export function ChatHeader({
  summary,
  connection,
  width,
}: {
  summary: ConversationSummary;
  connection: ConnectionState;
  width: number;
}) {
  const link = describeConnection(connection);
  const trust = describeTrust(summary.trust);
  const presence = describePresence(summary);
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Text bold>{fitWidth(summary.name, 24)}</Text>
        <Text dimColor> {summary.id.slice(0, 12)}</Text>
        {presence ? <Text color={summary.online ? 'green' : 'gray'}> · {presence}</Text> : null}
        <Text color={link.color}> · {link.text}</Text>
        <Text color={trust.color}> · {trust.text}</Text>
      </Text>
    </Box>
  );
}
