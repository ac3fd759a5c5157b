import stringWidth from 'string-width';
import { Box, Text } from 'ink';
import type { ConnectionState, ConversationSummary } from './chat-state.js';
import { SHORT_ID_DIGITS } from '../stream/peer-label.js';
import { fitWidth } from './message-rows.js';
import { tint } from './palette.js';
import { describeConnection, describePresence, describeTrust } from './status-text.js';

/**
 * The top line of a conversation: who, how far their key is trusted, their presence and my
 * connection. On a narrow terminal the name is cut before the trust state, which is never cut.
 */
export function ChatHeader({
  summary,
  connection,
  width,
  me,
}: {
  summary: ConversationSummary;
  connection: ConnectionState;
  width: number;
  /** My identifier: my notes to self show no presence. */
  me?: string;
}) {
  const link = describeConnection(connection);
  const trust = describeTrust(summary.trust);
  const presence = summary.id === me ? '' : describePresence(summary);
  const short = summary.shortId ?? `${summary.id.slice(0, SHORT_ID_DIGITS)}…`;
  // An unnamed peer's name is its short id already: say it once.
  const named = summary.name !== short;
  const nameRoom = Math.max(4, Math.min(24, width - stringWidth(trust.text) - 4));
  const name = fitWidth(summary.name, nameRoom);
  const idRoom = width - stringWidth(name) - stringWidth(trust.text) - 3;
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Text bold>{name}</Text>
        {named && idRoom >= stringWidth(short) + 2 ? <Text dimColor> {short}</Text> : null}
        {summary.lookalike === undefined ? null : (
          <Text {...tint('red')}> · ⚠ looks like {summary.lookalike}: a different peer</Text>
        )}
        <Text {...tint(trust.color)}> · {trust.text}</Text>
        {presence ? <Text {...tint(summary.online ? 'green' : 'gray')}> · {presence}</Text> : null}
        <Text {...tint(link.color)}> · {link.text}</Text>
      </Text>
    </Box>
  );
}
