import { Box, Text } from 'ink';
import { oneLine } from '../terminal/terminal-text.js';
import type { GroupMemberRow } from './group-state.js';
import { fitWidth } from './message-rows.js';
import { tint } from './palette.js';

const STATE_WORDS: Record<GroupMemberRow['state'], { text: string; color: string }> = {
  me: { text: 'me', color: 'cyan' },
  verified: { text: 'key verified', color: 'green' },
  pinned: { text: 'key pinned, not verified', color: 'gray' },
  changed: { text: 'KEY CHANGED: blocks sending until verified', color: 'red' },
  mismatch: { text: 'KEY MISMATCH: not the key the log names', color: 'red' },
  deleted: { text: 'account deleted (signed by its key)', color: 'gray' },
};

/**
 * The member list of a group (Ctrl+G): each member at the verified head, admins marked, and how
 * this device stands with each key, checked as a send would check it.
 */
export function GroupMembers({
  members,
  width,
  height,
}: {
  members: readonly GroupMemberRow[] | null;
  width: number;
  height: number;
}) {
  const shown = (members ?? []).slice(0, Math.max(0, height - 1));
  return (
    <Box height={height} width={width} flexDirection="column" overflow="hidden">
      <Text bold wrap="truncate-end">
        {members === null
          ? 'Members: checking the log and every key…'
          : `Members (${String(members.length)}) · Ctrl+G back to the messages`}
      </Text>
      {shown.map((member) => {
        const state = STATE_WORDS[member.state];
        return (
          <Box key={member.identifier} height={1} width={width} overflow="hidden">
            <Text wrap="truncate-end">
              <Text bold>{fitWidth(oneLine(member.name), 20).padEnd(20)}</Text>
              <Text {...tint('yellow')}>{member.admin ? ' admin' : '      '}</Text>
              <Text {...tint(state.color)}> · {state.text}</Text>
              <Text dimColor> · {member.identifier.slice(0, 16)}…</Text>
            </Text>
          </Box>
        );
      })}
    </Box>
  );
}
