import { Box, Text, useInput } from 'ink';
import { useCallback, useRef, useState } from 'react';
import type { ChatSnapshot, ConversationSummary } from './chat-state.js';
import { MessageInput } from './MessageInput.js';
import { fitWidth } from './message-rows.js';
import { StatusLine } from './StatusLine.js';
import { describeConnection, describePresence, shortWhen } from './status-text.js';
import { useLineEditor } from './use-line-editor.js';

/** What the inbox can ask of the app. */
export interface InboxActions {
  readonly open: (peer: string) => void;
  /** Opens a chat from what the user typed after `n`; false (with a notice) if it names nobody. */
  readonly openAddress: (address: string) => boolean;
  readonly quit: () => void;
  readonly toggleBell: () => void;
}

const HINTS = '↑↓ move · Enter open · n new chat · b bell · q quit';

function Entry({
  entry,
  selected,
  width,
}: {
  entry: ConversationSummary;
  selected: boolean;
  width: number;
}) {
  const presence = describePresence(entry);
  return (
    <Box width={width} height={1} overflow="hidden">
      <Text wrap="truncate-end">
        <Text color="cyan">{selected ? '› ' : '  '}</Text>
        <Text color={entry.online ? 'green' : 'gray'}>{entry.online ? '● ' : '○ '}</Text>
        <Text bold={entry.unread > 0} inverse={selected}>
          {fitWidth(entry.name, 24).padEnd(24)}
        </Text>
        <Text color="yellow">
          {entry.unread > 0 ? ` (${entry.unread} new)`.padEnd(10) : ''.padEnd(10)}
        </Text>
        <Text dimColor> {shortWhen(entry.lastActivity)}</Text>
        {presence ? <Text dimColor> · {presence}</Text> : null}
        {entry.trust === 'changed' ? <Text color="red"> · KEY CHANGED</Text> : null}
        {entry.rejected > 0 ? <Text color="red"> · ⚠ {entry.rejected} unverifiable</Text> : null}
      </Text>
    </Box>
  );
}

/**
 * The inbox: conversations by last activity with unread counts, presence and names; ↑↓ and Enter
 * open one, `n` asks for an identifier (or alias, or id#fingerprint) to start a new one, `q` quits.
 */
export function InboxView({
  snapshot,
  width,
  height,
  actions,
}: {
  snapshot: ChatSnapshot;
  width: number;
  height: number;
  actions: InboxActions;
}) {
  const [selected, setSelectedState] = useState(0);
  const selection = useRef(0);
  const setSelected = (index: number) => {
    selection.current = index;
    setSelectedState(index);
  };
  const [asking, setAsking] = useState(false);
  const submit = useCallback(
    (text: string) => {
      const opened = actions.openAddress(text.trim());
      if (opened) setAsking(false);
      return opened;
    },
    [actions],
  );
  const editor = useLineEditor(submit);
  const list = snapshot.conversations;
  const index = Math.min(selected, Math.max(0, list.length - 1));
  const listHeight = Math.max(1, height - 3);
  const start = Math.max(0, index - listHeight + 1);

  useInput((input, key) => {
    const index = Math.min(selection.current, Math.max(0, list.length - 1));
    if (asking) {
      if (key.escape) setAsking(false);
      else editor.handle(input, key);
      return;
    }
    if (key.upArrow || input === 'k') setSelected(Math.max(0, index - 1));
    else if (key.downArrow || input === 'j') setSelected(Math.min(list.length - 1, index + 1));
    else if (key.return) {
      const entry = list[index];
      if (entry) actions.open(entry.id);
    } else if (input === 'n') setAsking(true);
    else if (input === 'b') actions.toggleBell();
    else if (input === 'q') actions.quit();
  });

  const link = describeConnection(snapshot.connection);
  return (
    <Box flexDirection="column" width={width}>
      <Box height={1} width={width} overflow="hidden">
        <Text wrap="truncate-end">
          <Text bold>MetaChat</Text>
          <Text dimColor>
            {' '}
            · {snapshot.me.username} ({snapshot.me.identifier.slice(0, 12)})
          </Text>
          <Text color={link.color}> · {link.text}</Text>
          <Text dimColor> · bell {snapshot.bell ? 'on' : 'off'}</Text>
        </Text>
      </Box>
      <Box height={listHeight} flexDirection="column" overflow="hidden">
        {list.length === 0 ? (
          <Text dimColor>
            {snapshot.connection.status === 'connected'
              ? 'No conversations yet: press n and give a peer’s identifier.'
              : `Not connected to the relay (${link.text}): conversations appear once it answers; n still starts one.`}
          </Text>
        ) : (
          list
            .slice(start, start + listHeight)
            .map((entry, offset) => (
              <Entry
                key={entry.id}
                entry={entry}
                selected={start + offset === index}
                width={width}
              />
            ))
        )}
      </Box>
      {asking ? (
        <MessageInput
          state={editor.state}
          width={width}
          placeholder="identifier, id#fingerprint, alias or name; Esc cancels"
        />
      ) : (
        <Text dimColor> </Text>
      )}
      <StatusLine notice={snapshot.notice} hint={HINTS} width={width} />
    </Box>
  );
}
